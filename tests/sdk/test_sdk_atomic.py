"""causeway.sdk.atomic without a node: the transaction file (ADR 0004's format, every bad field
named), the body's bounds, the id, the owners' leg signatures and the signature files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from causeway.crypto import PrivateKey, get_profile
from causeway.errors import RequestError
from causeway.interchain.v1 import atomic_pb2
from causeway.sdk import Identity
from causeway.sdk.atomic import (
    ATOMIC_LEGS_MAX,
    DOMAIN_ATOMIC_LEG,
    ID_DOMAIN,
    AtomicReport,
    SignatureFile,
    build_body,
    leg_document,
    load_signature_file,
    load_transaction_file,
    merge_authorisations,
    outcome_name,
    parse_signature_file,
    parse_transaction_file,
    resolve_body,
    sign_leg,
    signature_file_text,
    state_name,
    transaction_id,
    vote_name,
)
from causeway.types import encode, sign_bytes

NONCE = "9f2c" * 8
ADR_EXAMPLE = f"""
version = 1
hub = "hub"
deadline_seconds = 60
nonce = "{NONCE}"
memo = "pay and register"

[[leg]]
chain = "chain-a"
owner = "org1/client"
kind = "bank_transfer"
from = "org1/client"
to = "org2/client"
denom = "gold"
amount = 10

[[leg]]
chain = "chain-b"
owner = "org1/client"
kind = "kv_write"
key = "registrations/42"
value = "registered"
expect_absent = true
"""
HUB_TIME_MS = 1_800_000_000_000


def owner(chain_id: str, member_id: str = "org1/client", algorithm: str = "ecdsa-p256") -> Identity:
    profile = "gm" if algorithm == "sm2" else "intl"
    return Identity(
        member_id=member_id,
        key=PrivateKey.generate(algorithm),
        crypto_profile=profile,
        chain_id=chain_id,
    )


def resolved() -> atomic_pb2.AtomicTransactionBody:
    return resolve_body(parse_transaction_file(ADR_EXAMPLE), hub_time_ms=HUB_TIME_MS)


def problems_of(text: str) -> str:
    with pytest.raises(RequestError) as caught:
        parse_transaction_file(text, "bad.toml")
    assert caught.value.reason == "invalid_argument"
    assert caught.value.message.startswith("bad.toml is not a valid atomic transaction file")
    return caught.value.message


# ---- the file ---------------------------------------------------------------------------------


def test_the_adr_example_reads_as_the_two_legs_it_describes() -> None:
    read = parse_transaction_file(ADR_EXAMPLE)
    body = read.body
    assert (body.version, body.hub_chain_id, body.memo) == (1, "hub", "pay and register")
    assert body.nonce == bytes.fromhex(NONCE)
    assert read.deadline_seconds == 60 and body.deadline_ms == 0
    first, second = body.legs
    assert (first.index, first.chain_id, first.owner) == (0, "chain-a", "org1/client")
    assert first.bank_transfer == atomic_pb2.AtomicBankTransfer(
        from_account="org1/client", to_account="org2/client", denom="gold", amount=10
    )
    assert (second.index, second.chain_id) == (1, "chain-b")
    assert second.kv_write == atomic_pb2.AtomicKvWrite(
        key=b"registrations/42", value=b"registered", expect_absent=True
    )


def test_every_kind_and_form_reads() -> None:
    text = """
version = 1
hub = "hub"
deadline_ms = 1800000060000
[[leg]]
chain = "a"
owner = "org1/x"
kind = "bank_transfer"
from = "org1/x"
to = "org2/y"
denom = "d"
amount = 3
[[leg]]
chain = "b"
owner = "org1/x"
kind = "kv_write"
key_hex = "00ff"
delete = true
expected_value_sha = "abcd"
[[leg]]
chain = "b"
owner = "org1/x"
kind = "kv_write"
key = "k"
value_hex = "0102"
[[leg]]
chain = "c"
owner = "org2/z"
kind = "port_call"
port = "test"
method = "reserve"
arguments_hex = "0a0b"
"""
    body = parse_transaction_file(text).body
    assert body.deadline_ms == 1_800_000_060_000 and not body.nonce
    assert body.legs[0].bank_transfer.amount == 3
    assert body.legs[1].kv_write == atomic_pb2.AtomicKvWrite(
        key=b"\x00\xff", delete=True, expected_value_hash=b"\xab\xcd"
    )
    assert body.legs[2].kv_write.value == b"\x01\x02"
    assert body.legs[3].port_call == atomic_pb2.AtomicPortCall(
        port="test", method="reserve", arguments=b"\x0a\x0b"
    )


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (("version = 1", "version = 2"), "'version' must be 1, not 2"),
        (('hub = "hub"', 'hub = ""'), "'hub' must be a non-empty string"),
        (('hub = "hub"', "hub = 7"), "'hub' must be a non-empty string, not 7"),
        (("deadline_seconds = 60", "deadline_seconds = 5"), "'deadline_seconds' must be an"),
        (("deadline_seconds = 60", "deadline_seconds = 601"), "from 10 to 600, not 601"),
        (("deadline_seconds = 60", 'deadline_seconds = "60"'), "not '60'"),
        (("deadline_seconds = 60", ""), "one of 'deadline_seconds' or 'deadline_ms' is needed"),
        (
            ("deadline_seconds = 60", "deadline_seconds = 60\ndeadline_ms = 5"),
            "give one of 'deadline_seconds' or 'deadline_ms', not",
        ),
        ((f'nonce = "{NONCE}"', 'nonce = "abc"'), "'nonce' must be a string of hex digit pairs"),
        ((f'nonce = "{NONCE}"', 'nonce = "abcd"'), "'nonce' is 2 bytes; it must be 16 to 32"),
        ((f'nonce = "{NONCE}"', 'nonce = ""'), "'nonce' is empty"),
        (('memo = "pay and register"', f'memo = "{"m" * 257}"'), "'memo' is 257 bytes"),
        (('memo = "pay and register"', "colour = 1"), "unknown key(s): colour"),
        (('chain = "chain-a"', 'chain = "hub"'), "leg 0 (hub): 'chain' is the hub 'hub'"),
        (('chain = "chain-a"\n', ""), "leg 0: 'chain' is missing"),
        (('owner = "org1/client"\nkind = "bank', 'owner = "alice"\nkind = "bank'), "member id"),
        (('kind = "bank_transfer"', 'kind = "swap"'), "'kind' must be one of bank_transfer"),
        (("amount = 10", "amount = 0"), "leg 0 (chain-a): 'amount' must be an integer from 1"),
        (("amount = 10", "amount = -1"), "'amount' must be an integer from 1"),
        (("amount = 10", 'amount = "ten"'), "not 'ten'"),
        (('denom = "gold"\n', ""), "leg 0 (chain-a): 'denom' is missing"),
        (('from = "org1/client"', 'from = "org2/client"'), "a leg spends only its owner's"),
        (('to = "org2/client"', 'to = "org2/client"\nkey = "x"'), "unknown key(s) for a bank"),
        (('key = "registrations/42"', 'key = ""'), "leg 1 (chain-b): 'key' is empty"),
        (
            ('key = "registrations/42"', 'key = "a"\nkey_hex = "00"'),
            "give one of 'key' or 'key_hex', not 'key' and 'key_hex'",
        ),
        (('key = "registrations/42"', f'key = "{"k" * 257}"'), "'key' is 257 bytes"),
        (('value = "registered"', 'value = "x"\ndelete = true'), "'delete = true' or a value"),
        (('value = "registered"\n', ""), "one of 'value' or 'value_hex' is needed"),
        (("expect_absent = true", 'expect_absent = "yes"'), "'expect_absent' must be true or"),
        (
            ("expect_absent = true", 'expect_absent = true\nexpected_value_sha = "ab"'),
            "'expect_absent = true' or 'expected_value_sha', not both",
        ),
        (("expect_absent = true", 'expected_value_sha = "zz"'), "'expected_value_sha' must be"),
    ],
)
def test_a_bad_field_is_named(change: tuple[str, str], fragment: str) -> None:
    old, new = change
    assert old in ADR_EXAMPLE
    assert fragment in problems_of(ADR_EXAMPLE.replace(old, new, 1))


def test_every_bad_field_of_a_file_is_named_at_once() -> None:
    text = ADR_EXAMPLE.replace("amount = 10", "amount = 0").replace(
        'value = "registered"', 'value_hex = "xyz"'
    )
    message = problems_of(text.replace("version = 1", "version = 3"))
    assert "'version' must be 1, not 3" in message
    assert "leg 0 (chain-a): 'amount'" in message
    assert "leg 1 (chain-b): 'value_hex' must be a string of hex digit pairs" in message


def test_leg_counts_outside_one_to_eight_are_refused() -> None:
    head = ADR_EXAMPLE.split("[[leg]]", maxsplit=1)[0]
    assert "no [[leg]]" in problems_of(head)
    one = ADR_EXAMPLE.split("[[leg]]")[2]
    too_many = head + "".join("[[leg]]" + one for _ in range(ATOMIC_LEGS_MAX + 1))
    assert "9 legs; a transaction has at most 8" in problems_of(too_many)
    eight = head + "".join("[[leg]]" + one for _ in range(ATOMIC_LEGS_MAX))
    assert len(parse_transaction_file(eight).body.legs) == ATOMIC_LEGS_MAX


def test_a_value_at_its_bound_passes_and_one_byte_more_does_not() -> None:
    at = ADR_EXAMPLE.replace('value = "registered"', f'value = "{"v" * 32768}"')
    assert len(parse_transaction_file(at).body.legs[1].kv_write.value) == 32768
    above = ADR_EXAMPLE.replace('value = "registered"', f'value = "{"v" * 32769}"')
    assert "'value' is 32769 bytes, above the limit of 32768" in problems_of(above)


def test_not_toml_and_unreadable_files_are_clear(tmp_path: Path) -> None:
    assert "not TOML" in problems_of("version = = 1")
    with pytest.raises(RequestError, match="does not exist"):
        load_transaction_file(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(RequestError, match="is not UTF-8 text"):
        load_transaction_file(binary)
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (1024 * 1024 + 1))
    with pytest.raises(RequestError, match="larger than"):
        load_transaction_file(big)
    good = tmp_path / "good.toml"
    good.write_text(ADR_EXAMPLE, encoding="utf-8")
    assert load_transaction_file(good).source == str(good)


# ---- the body and its id ----------------------------------------------------------------------


def test_a_relative_deadline_is_fixed_from_the_hub_time() -> None:
    body = resolved()
    assert body.deadline_ms == HUB_TIME_MS + 60_000
    absolute = parse_transaction_file(
        ADR_EXAMPLE.replace("deadline_seconds = 60", "deadline_ms = 42")
    )
    assert resolve_body(absolute, hub_time_ms=HUB_TIME_MS).deadline_ms == 42


def test_a_nonce_is_chosen_only_when_the_file_has_none() -> None:
    without = parse_transaction_file(ADR_EXAMPLE.replace(f'nonce = "{NONCE}"', ""))
    with pytest.raises(RequestError, match="names no nonce"):
        resolve_body(without, hub_time_ms=HUB_TIME_MS)
    chosen = resolve_body(without, hub_time_ms=HUB_TIME_MS, nonce=b"\x01" * 16)
    assert chosen.nonce == b"\x01" * 16
    with pytest.raises(RequestError, match="another was given"):
        resolve_body(parse_transaction_file(ADR_EXAMPLE), hub_time_ms=1, nonce=b"\x02" * 16)


def test_the_id_is_the_hub_hash_of_the_domain_and_the_body() -> None:
    body = resolved()
    for profile in ("intl", "gm"):
        expected = get_profile(profile).hash(ID_DOMAIN + encode(body))
        assert transaction_id(body, profile) == expected
    assert transaction_id(body, "intl") != transaction_id(body, "gm")
    other = atomic_pb2.AtomicTransactionBody()
    other.CopyFrom(body)
    other.deadline_ms += 1
    assert transaction_id(other, "intl") != transaction_id(body, "intl")


def test_the_id_and_the_bounds_are_the_contracts() -> None:
    from causeway.interchain import atomic as contract  # noqa: PLC0415 (the contract's own)
    from causeway.sdk import atomic as sdk  # noqa: PLC0415

    assert ID_DOMAIN == contract.TRANSACTION_ID_DOMAIN
    body = resolved()
    for profile in ("intl", "gm"):
        assert transaction_id(body, profile) == contract.transaction_id(
            body, get_profile(profile).hash
        )
    assert DOMAIN_ATOMIC_LEG == contract.DOMAIN_ATOMIC_LEG
    assert sdk.BODY_VERSION == contract.BODY_VERSION
    assert sdk.ATOMIC_LEGS_MAX == contract.ATOMIC_LEGS_MAX
    assert sdk.NONCE_BYTES_MIN == contract.ATOMIC_NONCE_BYTES_MIN
    assert sdk.NONCE_BYTES_MAX == contract.ATOMIC_NONCE_BYTES_MAX
    assert sdk.MEMO_BYTES_MAX == contract.ATOMIC_MEMO_BYTES_MAX
    assert sdk.KV_VALUE_BYTES_MAX == contract.ATOMIC_KV_VALUE_BYTES_MAX
    assert sdk.KV_KEY_BYTES_MAX == contract.KV_KEY_BYTES_MAX
    assert sdk.PORT_ARGUMENTS_BYTES_MAX == contract.ATOMIC_PORT_ARGUMENTS_BYTES_MAX
    assert sdk.LIST_LIMIT_MAX == contract.LIST_LIMIT_MAX
    assert sdk.DEADLINE_SECONDS_MAX * 1000 == contract.ATOMIC_DEADLINE_MAX_MS
    assert sdk.DEADLINE_SECONDS_MIN * 1000 > contract.ATOMIC_DEADLINE_MIN_MS


def test_a_leg_signature_is_what_the_contract_checks() -> None:
    from causeway.interchain import atomic as contract  # noqa: PLC0415

    body = resolved()
    identifier = transaction_id(body, "intl")
    assert leg_document(body, 1, identifier) == contract.leg_document(
        "hub", identifier, body.deadline_ms, body.legs[1]
    )


def test_ledger_legs_are_refused_as_the_contract_refuses_them() -> None:
    text = ADR_EXAMPLE.replace(
        'kind = "bank_transfer"\nfrom = "org1/client"\nto = "org2/client"\ndenom = "gold"',
        'kind = "ledger_transfer"\nfrom = "org1/client"\nto = "org2/client"',
    )
    assert "ledger_transfer" in text
    assert "kind 'ledger_transfer' is not supported by the atomic contract yet" in problems_of(text)


def test_build_body_indexes_the_legs_and_checks_the_bounds() -> None:
    legs = list(resolved().legs)
    for leg in legs:
        leg.index = 7
    body = build_body("hub", legs, deadline_ms=5, nonce=b"n" * 16, memo="m")
    assert [leg.index for leg in body.legs] == [0, 1]
    with pytest.raises(RequestError, match="the nonce is 15 bytes"):
        build_body("hub", legs, deadline_ms=5, nonce=b"n" * 15)
    with pytest.raises(RequestError, match="0 legs"):
        build_body("hub", [], deadline_ms=5, nonce=b"n" * 16)
    with pytest.raises(RequestError, match="no deadline"):
        build_body("hub", legs, deadline_ms=0, nonce=b"n" * 16)
    with pytest.raises(RequestError, match="names no member chain"):
        build_body("chain-a", legs, deadline_ms=5, nonce=b"n" * 16)
    with pytest.raises(RequestError, match="has no action"):
        build_body(
            "hub",
            [atomic_pb2.AtomicLeg(chain_id="a", owner="org1/x")],
            deadline_ms=5,
            nonce=b"n" * 16,
        )


# ---- signatures -------------------------------------------------------------------------------


def test_a_leg_signature_covers_the_document_for_the_legs_chain() -> None:
    body = resolved()
    alice = owner("chain-a")
    authorisation = sign_leg(alice, body, 0, hub_profile="intl")
    assert authorisation.leg_index == 0
    document = leg_document(body, 0, transaction_id(body, "intl"))
    signed = sign_bytes(DOMAIN_ATOMIC_LEG, "chain-a", encode(document))
    public = alice.key.public_key()
    assert public.verify(signed, authorisation.signature)
    # Not valid for another chain, nor for the id under another profile.
    assert not public.verify(
        sign_bytes(DOMAIN_ATOMIC_LEG, "chain-b", encode(document)), authorisation.signature
    )
    other = leg_document(body, 0, transaction_id(body, "gm"))
    assert not public.verify(
        sign_bytes(DOMAIN_ATOMIC_LEG, "chain-a", encode(other)), authorisation.signature
    )


def test_a_gm_owner_signs_with_sm2() -> None:
    body = resolved()
    bob = owner("chain-b", algorithm="sm2")
    authorisation = sign_leg(bob, body, 1, hub_profile="intl")
    document = leg_document(body, 1, transaction_id(body, "intl"))
    assert bob.key.public_key().verify(
        sign_bytes(DOMAIN_ATOMIC_LEG, "chain-b", encode(document)), authorisation.signature
    )


def test_only_the_owner_on_its_chain_signs_a_leg() -> None:
    body = resolved()
    with pytest.raises(RequestError, match="owned by 'org1/client' on chain-a; 'org2/client'"):
        sign_leg(owner("chain-a", "org2/client"), body, 0, hub_profile="intl")
    with pytest.raises(RequestError, match="runs on chain-a; the signer org1/client is a member"):
        sign_leg(owner("chain-b"), body, 0, hub_profile="intl")
    with pytest.raises(RequestError, match="leg 2 is not a leg of the transaction"):
        sign_leg(owner("chain-a"), body, 2, hub_profile="intl")


def signature_file(body: atomic_pb2.AtomicTransactionBody) -> SignatureFile:
    authorisation = sign_leg(owner("chain-a"), body, 0, hub_profile="intl")
    return SignatureFile(
        body=body,
        hub_crypto_profile="intl",
        transaction_id=transaction_id(body, "intl"),
        authorisations=(authorisation,),
    )


def test_a_signature_file_reads_back_as_written(tmp_path: Path) -> None:
    body = resolved()
    written = signature_file(body)
    path = tmp_path / "pay.signatures.json"
    path.write_text(signature_file_text(written), encoding="utf-8")
    read = load_signature_file(path)
    assert read == written


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d.update(version=2), "'version' must be 1"),
        (lambda d: d.update(hub_crypto_profile="rot13"), "'hub_crypto_profile'"),
        (lambda d: d.update(body="zz"), "'body' must be the hex"),
        (lambda d: d.update(body=d["body"][:-2]), "'body' does not decode"),
        (lambda d: d.update(transaction_id="00" * 32), "'transaction_id' is not the body's id"),
        (lambda d: d.update(hub_crypto_profile="gm"), "'transaction_id' is not the body's id"),
        (lambda d: d.update(hub="other"), "'hub' is not the body's hub"),
        (lambda d: d.update(signatures={}), "'signatures' must be a list"),
        (lambda d: d["signatures"].append({"leg": 5, "signature": "00"}), "leg 5: not a leg"),
        (lambda d: d["signatures"].append(d["signatures"][0]), "two signatures for leg 0"),
        (lambda d: d["signatures"][0].update(signature="xyz"), "is not hex"),
        (lambda d: d["signatures"][0].update(leg=True), "not a leg of the body"),
    ],
)
def test_a_bad_signature_file_is_refused(edit: object, fragment: str) -> None:
    document = json.loads(signature_file_text(signature_file(resolved())))
    edit(document)  # type: ignore[operator]
    with pytest.raises(RequestError, match=r"sig\.json: ") as caught:
        parse_signature_file(json.dumps(document), "sig.json")
    assert fragment in caught.value.message
    with pytest.raises(RequestError, match="not JSON"):
        parse_signature_file("{", "sig.json")


def test_authorisations_merge_once_per_leg_and_name_the_missing() -> None:
    body = resolved()
    first = sign_leg(owner("chain-a"), body, 0, hub_profile="intl")
    second = sign_leg(owner("chain-b"), body, 1, hub_profile="intl")
    assert merge_authorisations(body, [[second], [first, second]]) == [first, second]
    with pytest.raises(RequestError, match=r"no signature for leg 1 \(org1/client on chain-b\)"):
        merge_authorisations(body, [[first]])
    other = atomic_pb2.AtomicLegAuthorisation(leg_index=0, signature=b"x")
    with pytest.raises(RequestError, match="two different signatures for leg 0"):
        merge_authorisations(body, [[first], [other, second]])


# ---- reports ----------------------------------------------------------------------------------


def leg_result(state: int) -> atomic_pb2.AtomicLegResult:
    return atomic_pb2.AtomicLegResult(record=atomic_pb2.AtomicLegRecord(state=state))


CONFIRMED = atomic_pb2.ATOMIC_LEG_STATE_CONFIRMED
CANCELLED = atomic_pb2.ATOMIC_LEG_STATE_CANCELLED
REFUSED = atomic_pb2.ATOMIC_LEG_STATE_REFUSED
PREPARED = atomic_pb2.ATOMIC_LEG_STATE_PREPARED


@pytest.mark.parametrize(
    ("outcome", "states", "committed", "aborted"),
    [
        (atomic_pb2.ATOMIC_OUTCOME_COMMIT, (CONFIRMED, CONFIRMED), True, False),
        (atomic_pb2.ATOMIC_OUTCOME_COMMIT, (CONFIRMED, PREPARED), False, False),
        (atomic_pb2.ATOMIC_OUTCOME_ABORT, (CANCELLED, REFUSED), False, True),
        (atomic_pb2.ATOMIC_OUTCOME_ABORT, (PREPARED, REFUSED), False, False),
        (atomic_pb2.ATOMIC_OUTCOME_ABORT, (CANCELLED, None), False, False),
        (None, (PREPARED, PREPARED), False, False),
    ],
)
def test_a_report_ends_only_when_every_leg_ended(
    outcome: int | None, states: tuple[int | None, ...], committed: bool, aborted: bool
) -> None:
    record = atomic_pb2.AtomicTransactionRecord(body=resolved())
    decision = atomic_pb2.AtomicDecisionRecord(outcome=outcome) if outcome is not None else None
    legs = tuple(leg_result(state) if state is not None else None for state in states)
    report = AtomicReport(b"i" * 32, record, decision, legs)
    assert (report.committed, report.aborted) == (committed, aborted)


def test_names_of_outcomes_votes_and_states() -> None:
    assert [outcome_name(value) for value in (0, 1, 2)] == ["pending", "commit", "abort"]
    assert [vote_name(value) for value in (0, 1, 2, 3, 4)] == [
        "-",
        "yes",
        "no",
        "timed_out",
        "late_yes",
    ]
    assert [state_name(value) for value in (0, 1, 2, 3, 4)] == [
        "-",
        "prepared",
        "refused",
        "confirmed",
        "cancelled",
    ]
