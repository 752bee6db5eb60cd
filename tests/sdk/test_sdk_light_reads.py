"""GetValidatorSet and GetStates through both clients, verified; the GetStates bound from both
sides; certificates checked against a trusted set with causeway.light (sdk.verify_block,
sdk.verify_signed_header)."""

from __future__ import annotations

import pytest
from chain_double import ChainDouble, state_key_of
from chain_servers import AsyncServer, ThreadServer

from causeway.api import STATES_PER_REQUEST_MAX
from causeway.api.v1 import api_pb2
from causeway.crypto import PrivateKey, get_profile
from causeway.errors import LimitExceededError, ProofError, RequestError, SignatureError
from causeway.light import commit_sign_bytes
from causeway.sdk import (
    AsyncClient,
    Client,
    Identity,
    verify_block,
    verify_signed_header,
    verify_states_response,
    verify_validator_set_response,
)
from causeway.types.v1 import types_pb2

INTL = get_profile("intl")


def _client(server: ThreadServer, identity: Identity) -> Client:
    return Client(server.address, identity, timeout_s=5)


def test_validator_set_of_every_committed_height(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity
) -> None:
    with _client(thread_server, identity) as client:
        for argument in (b"1", b"2"):
            client.invoke("ledger", "transfer", argument)
        for height in (1, 2, 0):
            answer = client.get_validator_set(height)
            assert answer.height == (height or 2)
            assert answer.from_height == 1
            assert answer.validator_set == double.validators
        # A set other than the one the header names is refused.
        forged = client.get_validator_set(1, verify=False)
        forged.validator_set.validators[0].voting_power = 2
        with pytest.raises(ProofError, match="not the one the header of height 1 names"):
            verify_validator_set_response(forged, INTL)
        forged = client.get_validator_set(2, verify=False)
        with pytest.raises(ProofError, match="asked for height 1, answered for 2"):
            verify_validator_set_response(forged, INTL, height=1)


def test_many_states_at_one_height(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity
) -> None:
    with _client(thread_server, identity) as client:
        first = client.invoke("ledger", "transfer", b"first")
        second = client.invoke("ledger", "transfer", b"second")
        keys = [state_key_of(first.transaction_id), b"missing", state_key_of(second.transaction_id)]
        answer = client.get_states(keys)
        assert answer.height == 2
        assert [(entry.found, entry.value) for entry in answer.entries] == [
            (True, b"first"),
            (False, b""),
            (True, b"second"),
        ]
        # At height 1 the second transaction's key is absent, proven so.
        earlier = client.get_states(keys, height=1)
        assert [entry.found for entry in earlier.entries] == [True, False, False]
        tampered = client.get_states(keys, verify=False)
        tampered.entries[0].value = b"other"
        with pytest.raises(ProofError, match="state proof leaf holds another value"):
            verify_states_response(tampered, keys, INTL)
        swapped = client.get_states(keys, verify=False)
        swapped.entries[0].key = keys[2]
        with pytest.raises(ProofError, match="entry 0 answers for another key"):
            verify_states_response(swapped, keys, INTL)
        with pytest.raises(ProofError, match="asked for 2 keys, answered 3"):
            verify_states_response(client.get_states(keys, verify=False), keys[:2], INTL)


def test_get_states_bound_at_the_limit_and_one_past(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity
) -> None:
    with _client(thread_server, identity) as client:
        client.invoke("ledger", "transfer", b"x")
        keys = [b"key %d" % index for index in range(STATES_PER_REQUEST_MAX)]
        assert len(client.get_states(keys).entries) == STATES_PER_REQUEST_MAX
        with pytest.raises(LimitExceededError, match="asks for 257 keys, above the limit of 256"):
            client.get_states([*keys, b"one more"])
        with pytest.raises(RequestError, match="GetStates needs at least one key"):
            client.get_states([])


async def test_the_async_client_reads_the_same(double: ChainDouble, identity: Identity) -> None:
    server = AsyncServer(double)
    await server.start()
    try:
        async with AsyncClient(server.address, identity, timeout_s=5) as client:
            result = await client.invoke("ledger", "transfer", b"value")
            answer = await client.get_states([state_key_of(result.transaction_id)])
            assert answer.entries[0].value == b"value"
            assert (await client.get_validator_set()).validator_set == double.validators
            with pytest.raises(LimitExceededError, match="above the limit of 256"):
                await client.get_states([b"k"] * (STATES_PER_REQUEST_MAX + 1))
    finally:
        await server.stop()


def test_a_certificate_checked_against_a_trusted_set(
    thread_server: ThreadServer, double: ChainDouble, identity: Identity
) -> None:
    keys = [PrivateKey.generate("ecdsa-p256") for _ in range(3)]
    double.validators = types_pb2.ValidatorSet(
        validators=[
            types_pb2.Validator(
                member_id=f"org{index}/validator",
                algorithm=key.algorithm,
                public_key=key.public_key().raw,
                voting_power=1,
            )
            for index, key in enumerate(keys)
        ]
    )
    with _client(thread_server, identity) as client:
        client.invoke("ledger", "transfer", b"x")
        answer = client.get_block(1)
        trusted = client.get_validator_set(1).validator_set
        document = commit_sign_bytes(double.chain_id, 1, 0, answer.certificate.block_hash)

        def signed_by(indexes: list[int]) -> api_pb2.GetBlockResponse:
            response = api_pb2.GetBlockResponse()
            response.CopyFrom(answer)
            response.certificate.signatures.extend(
                types_pb2.CommitSignature(
                    validator=f"org{index}/validator", signature=keys[index].sign(document)
                )
                for index in indexes
            )
            return response

        full = signed_by([0, 1, 2])
        verify_block(full.block, full.certificate, list(full.results), INTL, validators=trusted)
        partial = signed_by([0, 2])
        with pytest.raises(SignatureError, match="holds 2 of 3 voting power"):
            verify_block(
                partial.block, partial.certificate, list(partial.results), INTL, validators=trusted
            )
        # Without a trusted set, only that the certificate is for this block is checked.
        verify_block(partial.block, partial.certificate, list(partial.results), INTL)
        # A header read without its body is checked by the same rules.
        verify_signed_header(full.block.header, full.certificate, INTL, validators=trusted)
        with pytest.raises(SignatureError, match="holds 2 of 3 voting power"):
            verify_signed_header(
                partial.block.header, partial.certificate, INTL, validators=trusted
            )
        verify_signed_header(partial.block.header, partial.certificate, INTL)
