"""The parts of causeway.net that need no network: settings, backoff, queues, caches, TLS files."""

from __future__ import annotations

import dataclasses
import random
import tomllib
from pathlib import Path
from typing import Any

import pytest
from net_support import Inbox, init_test_network, node_settings

from causeway.crypto.verified import verification_key
from causeway.errors import ConfigurationError
from causeway.net import (
    Backoff,
    NetworkStatistics,
    PeerAddress,
    PeerLimits,
    PeerNetwork,
    PeerSendQueue,
    ReconnectBackoff,
    TlsIdentity,
    VerifiedTransactionCache,
    load_peer_settings,
)
from causeway.provisioning import node_directory


def test_settings_from_the_config_that_init_writes(tmp_path: Path) -> None:
    init_test_network(tmp_path, validators=3)
    home = node_directory(tmp_path, "node2")
    settings = node_settings(home)
    assert settings.listen_address == "127.0.0.1:7151"
    assert settings.peers == (
        PeerAddress("node1", "org1/node1", "127.0.0.1:7150"),
        PeerAddress("node3", "org3/node3", "127.0.0.1:7152"),
    )
    assert settings.tls_key_file == home / "tls/node.key"
    assert settings.limits == PeerLimits()
    identity = TlsIdentity.load(
        settings.tls_key_file, settings.tls_certificate_file, settings.tls_ca_bundle_file
    )
    assert identity.member_id == "org2/node2"
    assert sorted(identity.authorities) == ["org1", "org2", "org3"]


def test_settings_defaults_and_overrides(tmp_path: Path) -> None:
    settings = load_peer_settings({}, tmp_path)
    assert settings.listen_address == "127.0.0.1:7150"
    assert settings.peers == ()
    assert settings.tls_ca_bundle_file == tmp_path / "tls/ca-bundle.pem"
    document = tomllib.loads(
        """
        [peers]
        listen_address = "0.0.0.0:7150"
        consensus_queue_max = 8
        reconnect_initial_ms = 50
        reconnect_jitter = 0
        [[peers.peer]]
        name = "node2"
        member_id = "org2/node2"
        address = "node2.example.org:7150"
        """
    )
    settings = load_peer_settings(document, tmp_path)
    assert settings.listen_address == "0.0.0.0:7150"
    assert settings.limits.consensus_queue_max == 8
    assert settings.backoff == ReconnectBackoff(initial_ms=50, jitter=0.0)
    assert settings.peers[0].organisation == "org2"


@pytest.mark.parametrize(
    ("peers", "message"),
    [
        ({"consensus_queue_max": 0}, "consensus_queue_max must be a positive integer"),
        ({"consensus_queue_max": True}, "consensus_queue_max"),
        ({"listen_adress": "x"}, "unknown settings: listen_adress"),
        ({"envelope_bytes_max": 1 << 30}, "envelope_bytes_max must not be above"),
        ({"reconnect_initial_ms": 50_000}, "reconnect_initial_ms"),
        ({"reconnect_jitter": 1.5}, "reconnect_jitter"),
        ({"peer": {"name": "x"}}, "array of tables"),
        ({"peer": [{"name": "node2", "member_id": "org2/node2"}]}, "'address'"),
        (
            {"peer": [{"name": "Node 2", "member_id": "org2/node2", "address": "h:1"}]},
            "DNS label",
        ),
        (
            {"peer": [{"name": "node2", "member_id": "node2", "address": "h:1"}]},
            "'<organisation>/<name>'",
        ),
        (
            {"peer": [{"name": "node2", "member_id": "org2/node2", "address": "nohost"}]},
            "host:port",
        ),
        (
            {
                "peer": [
                    {"name": "node2", "member_id": "org2/node2", "address": "h:1"},
                    {"name": "node2", "member_id": "org2/node3", "address": "h:2"},
                ]
            },
            "more than once",
        ),
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, peers: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_peer_settings({"peers": peers}, tmp_path)


def test_tls_identity_refuses_material_that_does_not_belong_together(tmp_path: Path) -> None:
    init_test_network(tmp_path / "a", validators=2)
    init_test_network(tmp_path / "b", validators=2)
    mine = node_directory(tmp_path / "a", "node1") / "tls"
    other = node_directory(tmp_path / "b", "node1") / "tls"
    key, certificate, bundle = (
        (mine / name).read_bytes() for name in ("node.key", "node.crt", "ca-bundle.pem")
    )
    TlsIdentity.from_pem(key, certificate, bundle)
    with pytest.raises(ConfigurationError, match="does not hold the TLS key"):
        TlsIdentity.from_pem((other / "node.key").read_bytes(), certificate, bundle)
    with pytest.raises(ConfigurationError, match="not issued by a TLS CA"):
        TlsIdentity.from_pem(key, certificate, (other / "ca-bundle.pem").read_bytes())
    with pytest.raises(ConfigurationError, match="cannot load the TLS key"):
        TlsIdentity.from_pem(b"garbage", certificate, bundle)
    with pytest.raises(ConfigurationError, match="cannot read the TLS key"):
        TlsIdentity.load(mine / "missing.key", mine / "node.crt", mine / "ca-bundle.pem")
    identity = TlsIdentity.from_pem(key, certificate, bundle)
    with pytest.raises(ConfigurationError, match="no CA certificate of organisation 'org7'"):
        identity.authority_pem("org7")


def test_backoff_grows_caps_jitters_and_resets() -> None:
    settings = ReconnectBackoff(initial_ms=100, max_ms=1000, multiplier=2.0, jitter=0.0)
    backoff = Backoff(settings, random.Random(1))
    assert [backoff.next_delay_s() for _ in range(6)] == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0]
    backoff.reset()
    assert backoff.next_delay_s() == 0.1
    jittered = Backoff(ReconnectBackoff(initial_ms=100, max_ms=1000, jitter=0.5), random.Random(7))
    delays = [jittered.next_delay_s() for _ in range(8)]
    bases = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]
    assert all(base / 2 <= delay <= base for delay, base in zip(delays, bases, strict=True))
    assert delays != bases
    # The same seed gives the same delays.
    again = Backoff(ReconnectBackoff(initial_ms=100, max_ms=1000, jitter=0.5), random.Random(7))
    assert [again.next_delay_s() for _ in range(8)] == delays
    endless = Backoff(settings, random.Random(1))
    for _ in range(10_000):
        endless.next_delay_s()
    assert endless.next_delay_s() == 1.0


async def test_send_queue_policies_and_priorities() -> None:
    queue = PeerSendQueue(consensus_max=2, transaction_batches_max=2)
    assert queue.put_transactions(b"t1")
    assert queue.put_transactions(b"t2")
    assert not queue.put_transactions(b"t3")  # newest dropped
    assert queue.put_consensus(b"c1")
    assert queue.put_consensus(b"c2")
    assert not queue.put_consensus(b"c3")  # oldest (c1) dropped
    queue.put_status(b"s1")
    queue.put_status(b"s2")  # replaces s1
    assert len(queue) == 5
    assert [await queue.get() for _ in range(5)] == [b"c2", b"c3", b"s2", b"t1", b"t2"]
    assert queue.take() is None


def test_verified_transaction_cache_is_a_bounded_lru() -> None:
    cache = VerifiedTransactionCache(capacity=3)
    cache.add_many([(b"a", b"sa", b"k"), (b"b", b"sb", b"k"), (b"c", b"sc", b"k")])
    assert cache.is_verified(b"a", b"sa", b"k")  # a is now the most recently used
    cache.add(b"d", b"sd", b"k")  # evicts b
    assert cache.verified_flags(
        [(b"a", b"sa", b"k"), (b"b", b"sb", b"k"), (b"c", b"sc", b"k"), (b"d", b"sd", b"k")]
    ) == [True, False, True, True]
    # The same body with another signature, or verified with another key, was not verified.
    assert not cache.is_verified(b"a", b"other signature", b"k")
    assert not cache.is_verified(b"a", b"sa", b"another key")
    # The signature's length comes first: a signature and key split otherwise is another entry.
    assert not cache.is_verified(b"a", b"s", b"ak")
    cache.discard(b"a", b"sa", b"k")
    assert not cache.is_verified(b"a", b"sa", b"k")
    assert len(cache) == 2
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError, match="positive"):
        VerifiedTransactionCache(capacity=0)


def test_a_verified_entry_taken_for_a_block_leaves_the_cache() -> None:
    cache = VerifiedTransactionCache(capacity=3)
    kept, taken = verification_key(b"a", b"sa", b"k"), verification_key(b"b", b"sb", b"k")
    cache.add_keys([kept, taken])
    missing = verification_key(b"c", b"sc", b"k")
    assert cache.verified_keys([taken, missing], take=True) == [True, False]
    assert cache.verified_keys([kept, taken, missing]) == [True, False, False]
    assert len(cache) == 1
    # A lookup that does not take keeps the entry and counts it as a use.
    cache.add_keys([taken, missing])
    assert cache.verified_keys([kept]) == [True]
    cache.add_keys([verification_key(b"d", b"sd", b"k")])  # evicts the least recently used
    assert cache.verified_keys([kept, taken, missing]) == [True, False, True]


def test_statistics_totals_and_per_peer() -> None:
    statistics = NetworkStatistics()
    statistics.increment("received_transactions", "org2/node2", 5)
    statistics.increment("received_transactions", "org3/node3")
    statistics.increment("refused_peers")
    assert statistics.get("received_transactions") == 6
    assert statistics.get("received_transactions", "org2/node2") == 5
    assert statistics.get("received_transactions", "org9/node9") == 0
    snapshot = statistics.snapshot()
    assert snapshot["received_transactions"] == 6
    assert snapshot["refused_peers"] == 1
    assert snapshot["blocks_rejected"] == 0
    assert statistics.peer_snapshot()[""] == {"refused_peers": 1}


def test_peer_network_checks_its_identity_and_peers_up_front(tmp_path: Path) -> None:
    init_test_network(tmp_path, validators=2)
    settings = node_settings(node_directory(tmp_path, "node1"))
    tls = TlsIdentity.load(
        settings.tls_key_file, settings.tls_certificate_file, settings.tls_ca_bundle_file
    )
    handlers = Inbox().handlers()
    network = PeerNetwork(
        chain_id="c", settings=settings, tls=tls, handlers=handlers, member_id="org1/node1"
    )
    assert network.member_id == "org1/node1"
    assert [state.member_id for state in network.peers()] == ["org2/node2"]
    with pytest.raises(ConfigurationError, match="names 'org1/node1', not the node's member"):
        PeerNetwork(
            chain_id="c", settings=settings, tls=tls, handlers=handlers, member_id="org2/node2"
        )
    stranger = dataclasses.replace(
        settings, peers=(*settings.peers, PeerAddress("node9", "org9/node9", "h:1"))
    )
    with pytest.raises(ConfigurationError, match="organisation 'org9'"):
        PeerNetwork(chain_id="c", settings=stranger, tls=tls, handlers=handlers)
    with pytest.raises(ConfigurationError, match="not started"):
        _ = network.port
