"""The Ethereum-compatible gateway (docs/gateways.md): the Solidity contracts of the EVM side
(``solidity/``: the endpoint with its k-of-n committee, the ERC-20 transfer app and voucher),
their compilation and deployment (``contracts``), and the ``causeway gateway`` process, one per
committee member, that attests EVM headers to the hub and carries packets both ways."""

from causeway.interchain.gateways.contracts import (
    ENDPOINT_CONTRACT,
    SOLIDITY_FOLDER,
    TEST_TOKEN_CONTRACT,
    TRANSFER_CONTRACT,
    VOUCHER_CONTRACT,
    GatewayDeployment,
    check_committee,
    compiled_contracts,
    deploy_gateway,
    solidity_sources,
)

__all__ = [
    "ENDPOINT_CONTRACT",
    "SOLIDITY_FOLDER",
    "TEST_TOKEN_CONTRACT",
    "TRANSFER_CONTRACT",
    "VOUCHER_CONTRACT",
    "GatewayDeployment",
    "check_committee",
    "compiled_contracts",
    "deploy_gateway",
    "solidity_sources",
]
