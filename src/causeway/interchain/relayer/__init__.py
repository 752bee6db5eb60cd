"""The ``causeway relayer`` process: carries packets and client updates between Causeway chains
through their nodes (``SdkEndpoint``, a ``relaying.ChainEndpoint`` over the SDK), on the links a
configuration file names, with metrics, logs and backoff (``service``). What a round does is
``causeway.interchain.relaying``; the process around it holds nothing that matters for
correctness."""

from causeway.interchain.relayer.config import (
    ChainSettings,
    LinkSettings,
    RelayerConfig,
    TlsFiles,
    load_relayer_config,
)
from causeway.interchain.relayer.endpoint import SdkEndpoint
from causeway.interchain.relayer.metrics import MetricsServer, RelayerMetrics
from causeway.interchain.relayer.service import Link, RelayerService, build_service

__all__ = [
    "ChainSettings",
    "Link",
    "LinkSettings",
    "MetricsServer",
    "RelayerConfig",
    "RelayerMetrics",
    "RelayerService",
    "SdkEndpoint",
    "TlsFiles",
    "build_service",
    "load_relayer_config",
]
