"""The one transaction verifier: the rules a transaction's envelope passes wherever it enters.

Admission (clients and gossip, `causeway.mempool.Admission`), block building and validation
(`ExecutionApplication`, with the block's time as "now") and queries (the client service) all
check a transaction here, so that one transaction is refused by each for the same reason. Block
building judges this node's own pooled transactions again only on what may have changed since
their admission (`verify_admitted`: time, the chain's bounds, the sender's member record). In order:

1. decoding: the canonical encoding of a Transaction and of its body, at most
   `rules.transaction_bytes_max` bytes;
2. the body: version `TRANSACTION_VERSION`; this chain's id; a timestamp (`timestamp_ms` > 0);
   an expiry not before its timestamp; not expired (`expiry_ms` >= now, so a transaction is
   good up to and including its expiry millisecond); an expiry at most `rules.expiry_max_ms`
   after now; a timestamp at most `rules.timestamp_future_max_ms` after now (clock skew);
3. the sender: a member, with a role that may send something (CLIENT, ADMIN, or CONSENSUS), a
   key of an algorithm the crypto profile allows, and a key that loads; then, per transaction, a
   role that may send this one (`may_send`; any member may make a query, which only reads);
4. the signature: present, and valid over `sign_bytes("transaction", chain_id, body)`. The
   signatures of a batch are verified in one BatchVerifier call; a (transaction id, signature,
   sender's current key) already in the VerifiedTransactionCache is not verified again, and
   every one verified at admission is added to it. A transaction this node admitted (its own
   pool's, or a message with the bytes of one it holds) finds its admission's entry there,
   unless the sender's key changed since: then it is judged by the new key, as by any other
   validator. Building or checking a block uses its transactions' entries up (they leave the
   cache: crypto.verified says why).

Endorsements are the executor's: it checks them against the state the block runs on. The
executor also re-checks version, chain, size, expiry and role at execution (a transaction may
fail there, as a result, after the state changed within its block).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from causeway.crypto import (
    BatchVerifier,
    CryptoProfile,
    PublicKey,
    VerifiedTransactionCache,
    load_public_key,
)
from causeway.crypto.verified import verification_key
from causeway.errors import (
    CryptoError,
    DecodeError,
    ExpiredError,
    InvariantError,
    LimitExceededError,
    PermissionDeniedError,
    RequestError,
    SignatureError,
    UnknownMemberError,
    WrongChainError,
)
from causeway.execution.context import may_send
from causeway.types import (
    DOMAIN_TRANSACTION,
    TRANSACTION_VERSION,
    DecodedTransaction,
    decode_transaction,
)
from causeway.types.v1 import types_pb2

# How far a transaction's timestamp may run ahead of the verifier's clock (clock skew between
# clients and nodes); a later one is refused rather than kept around.
TIMESTAMP_FUTURE_MAX_MS = 60_000

# What a transaction arrives as: bytes from a client, a message from a peer or a block, or one
# already decoded here (its bytes kept, never encoded again).
TransactionInput = bytes | types_pb2.Transaction | DecodedTransaction
Outcome = DecodedTransaction | RequestError
# A sender's public key and roles, looked up once per batch.
Sender = tuple[PublicKey, frozenset[int]]
MemberLookup = Callable[[str], types_pb2.Member | None]
# The transaction this node admitted and still holds (decoded, with its bytes, its signature
# verified at admission) under an id, if any.
HeldLookup = Callable[[bytes], DecodedTransaction | None]
# Roles that may send some transaction (which ones: causeway.execution.may_send).
_SENDING_ROLES = frozenset({types_pb2.ROLE_CLIENT, types_pb2.ROLE_ADMIN, types_pb2.ROLE_CONSENSUS})


@dataclass(frozen=True, slots=True)
class TransactionRules:
    """The chain's bounds on a transaction (from its ChainConfig) and the allowed clock skew."""

    transaction_bytes_max: int
    expiry_max_ms: int
    timestamp_future_max_ms: int = TIMESTAMP_FUTURE_MAX_MS

    def __post_init__(self) -> None:
        if (
            self.transaction_bytes_max <= 0
            or self.expiry_max_ms <= 0
            or self.timestamp_future_max_ms < 0
        ):
            raise InvariantError(f"transaction rules must be positive, got {self}")

    @classmethod
    def of(cls, config: types_pb2.ChainConfig) -> TransactionRules:
        return cls(
            transaction_bytes_max=config.transaction_bytes_max,
            expiry_max_ms=config.transaction_expiry_max_ms,
        )


class TransactionVerifier:
    """Checks transactions by the rules of the module docstring; changes nothing but the cache."""

    def __init__(
        self,
        chain_id: str,
        profile: CryptoProfile,
        batch_verifier: BatchVerifier,
        verified: VerifiedTransactionCache | None = None,
        held: HeldLookup | None = None,
    ) -> None:
        """held: the transactions this node admitted (its mempool: each passed admission here,
        signature verified). A transaction message (in a peer's block) that serializes to the
        bytes of one of them is not decoded again: the held one, with the bytes kept since
        admission, stands for it, and verify does not check its signature again."""
        self._chain_id = chain_id
        self._profile = profile
        self._batch_verifier = batch_verifier
        self._verified = verified
        self._held = held

    @property
    def profile(self) -> CryptoProfile:
        return self._profile

    def verify(
        self,
        items: Sequence[TransactionInput],
        now_ms: int,
        rules: TransactionRules,
        member_lookup: MemberLookup,
        *,
        query: bool = False,
        block: bool = False,
    ) -> list[Outcome]:
        """Every rule, in input order each item's DecodedTransaction or the RequestError that
        refuses it. query: the role rule is a query's (any member), and a query's signature is
        not remembered (a query never enters a block). block: the items are a block's, checked
        before it commits: their cache entries are used up (verify_signatures' take)."""
        outcomes: list[Outcome | None] = [None] * len(items)
        indexes: list[int] = []
        pending: list[tuple[DecodedTransaction, PublicKey]] = []
        senders: dict[str, Sender | RequestError] = {}
        holds = self._held is not None
        for index, item in enumerate(items):
            held = (
                self._held_copy(item) if holds and isinstance(item, types_pb2.Transaction) else None
            )
            try:
                transaction = self.check_envelope(held or item, now_ms, rules)
                key = self.check_sender(transaction, senders, member_lookup, query=query)
            except RequestError as error:
                outcomes[index] = error
                continue
            # A held transaction's signature was verified at admission: the cache answers for it
            # (no sign bytes, no verification) as long as the sender's key is the same.
            indexes.append(index)
            pending.append((transaction, key))
        valid = self.verify_signatures(pending, remember=not query, take=block)
        for index, (transaction, _), is_valid in zip(indexes, pending, valid, strict=True):
            outcomes[index] = transaction if is_valid else self.signature_error(transaction)
        return [outcome for outcome in outcomes if outcome is not None]

    def check_envelope(
        self, item: TransactionInput, now_ms: int, rules: TransactionRules
    ) -> DecodedTransaction:
        """Steps 1 and 2: decoding and the body's own rules; raises the RequestError."""
        transaction = self.decode(item, rules.transaction_bytes_max)
        body = transaction.body
        if body.version != TRANSACTION_VERSION:
            raise DecodeError(
                f"transaction version {body.version} is not the supported version "
                f"{TRANSACTION_VERSION}"
            )
        if body.chain_id != self._chain_id:
            raise WrongChainError(
                f"transaction is for chain {body.chain_id!r}, this is {self._chain_id!r}"
            )
        # Each field read once: every read of a message field builds a new Python object.
        timestamp_ms = body.timestamp_ms
        expiry_ms = body.expiry_ms
        if timestamp_ms <= 0:
            raise DecodeError("transaction has no timestamp (timestamp_ms is 0)")
        if expiry_ms < timestamp_ms:
            raise DecodeError(
                f"transaction expiry {expiry_ms} ms is before its timestamp {timestamp_ms} ms"
            )
        self._check_times(timestamp_ms, expiry_ms, now_ms, rules)
        return transaction

    def verify_admitted(
        self,
        transactions: Sequence[DecodedTransaction],
        now_ms: int,
        rules: TransactionRules,
        member_lookup: MemberLookup,
    ) -> list[Outcome]:
        """verify's outcomes for transactions this node admitted (its mempool's, for a block it
        builds), checking only what may have changed since admission: the time (expiry, furthest
        expiry, timestamp skew), the chain's bounds (size, furthest expiry) and the sender's
        member record (still a member, a role that may send it, an allowed key that loads), and
        that its signature was verified with the sender's key of now (the cache answers, with
        no sign bytes; a key changed since admission, or an entry the cache let go, is verified
        again). Admission checked the rest, which a transaction's kept bytes fix for good: its
        encoding, version, chain and timestamp."""
        outcomes: list[Outcome | None] = [None] * len(transactions)
        indexes: list[int] = []
        pending: list[tuple[DecodedTransaction, PublicKey]] = []
        senders: dict[str, Sender | RequestError] = {}
        bytes_max = rules.transaction_bytes_max
        check_times = self._check_times
        check_sender = self.check_sender
        for index, transaction in enumerate(transactions):
            try:
                if transaction.size > bytes_max:
                    raise _too_large(transaction.size, bytes_max)
                body = transaction.body
                check_times(body.timestamp_ms, body.expiry_ms, now_ms, rules)
                key = check_sender(transaction, senders, member_lookup)
            except RequestError as error:
                outcomes[index] = error
                continue
            indexes.append(index)
            pending.append((transaction, key))
        valid = self.verify_signatures(pending, take=True)
        for index, (transaction, _), is_valid in zip(indexes, pending, valid, strict=True):
            outcomes[index] = transaction if is_valid else self.signature_error(transaction)
        return [outcome for outcome in outcomes if outcome is not None]

    @staticmethod
    def _check_times(
        timestamp_ms: int, expiry_ms: int, now_ms: int, rules: TransactionRules
    ) -> None:
        """The body's rules that depend on now and on the chain's bounds; raises the
        RequestError."""
        if expiry_ms < now_ms:
            raise ExpiredError(f"transaction expired at {expiry_ms} ms, now is {now_ms} ms")
        if expiry_ms - now_ms > rules.expiry_max_ms:
            raise ExpiredError(
                f"transaction expiry {expiry_ms} ms is more than {rules.expiry_max_ms} ms "
                f"ahead of now ({now_ms} ms)"
            )
        if timestamp_ms - now_ms > rules.timestamp_future_max_ms:
            raise RequestError(
                f"transaction timestamp {timestamp_ms} ms is more than "
                f"{rules.timestamp_future_max_ms} ms ahead of now ({now_ms} ms)",
                reason="future_timestamp",
            )

    def decode(self, item: TransactionInput, bytes_max: int) -> DecodedTransaction:
        """Step 1 alone (also for a certified block's transactions, which skip step 2): a
        message that serializes to the bytes of a transaction this node holds is the held one,
        with the bytes kept since admission (nothing decoded); anything else is decoded from its
        own bytes. Raises the DecodeError or LimitExceededError."""
        if isinstance(item, types_pb2.Transaction) and self._held is not None:
            item = self._held_copy(item) or item
        if isinstance(item, DecodedTransaction):
            if item.size > bytes_max:
                raise _too_large(item.size, bytes_max)
            return item
        return decode_transaction(item, hash_function=self._profile.hash, bytes_max=bytes_max)

    def check_sender(
        self,
        transaction: DecodedTransaction,
        senders: dict[str, Sender | RequestError],
        member_lookup: MemberLookup,
        *,
        query: bool = False,
    ) -> PublicKey:
        """Step 3 and the presence of a signature; `senders` caches lookups over a batch.
        Returns the sender's key; raises the RequestError."""
        body = transaction.body
        sender = body.sender
        known = senders.get(sender)
        if known is None:
            known = senders[sender] = self._sender(sender, member_lookup(sender), query=query)
        if isinstance(known, RequestError):
            # A fresh error per item: one sender's refusal is each of its transactions' own.
            raise type(known)(known.message)
        key, roles = known
        if not query and not may_send(roles, body.contract, body.method):
            message = f"sender {sender} has neither the CLIENT nor the ADMIN role"
            if types_pb2.ROLE_CONSENSUS in roles:
                message += "; a CONSENSUS member may only send evidence.submit"
            raise PermissionDeniedError(message)
        if not transaction.transaction.signature:
            raise SignatureError("the transaction is not signed")
        return key

    def verify_signatures(
        self,
        items: Sequence[tuple[DecodedTransaction, PublicKey]],
        *,
        remember: bool = True,
        take: bool = False,
        meanwhile: Callable[[], None] | None = None,
    ) -> list[bool]:
        """Step 4 for transactions past the others: whether each signature verifies. Pairs in
        the cache are not verified again; those verified here are added to it (with remember).
        take: the pairs are a block's (built or checked), their last use: those found leave the
        cache and those verified here are not added (crypto.verified).
        `meanwhile` is called once, while the signatures are verified if the batch verifier
        has workers (BatchVerifier.verify_many)."""
        if not items:
            if meanwhile is not None:
                meanwhile()
            return []
        cache = self._verified
        # Each pair's cache key made once, for the lookup and for remembering it.
        keys: list[bytes] = []
        if cache is not None:
            keys = [verification_key(t.id, t.transaction.signature, k.raw) for t, k in items]
            known = cache.verified_keys(keys, take=take)
        else:
            known = [False] * len(items)
        unknown = [index for index, is_known in enumerate(known) if not is_known]
        if not unknown:
            if meanwhile is not None:
                meanwhile()
            return known
        batch = []
        for index in unknown:
            transaction, key = items[index]
            message = transaction.transaction
            batch.append((key, message.body, message.signature))
        # The sign bytes are built by the batch verifier, in its worker processes if it has any.
        checked = self._batch_verifier.verify_signed(
            DOMAIN_TRANSACTION, self._chain_id, batch, meanwhile=meanwhile
        )
        if len(checked) != len(unknown):
            raise InvariantError("the batch verifier answered for a different batch")
        valid = known
        for index, is_valid in zip(unknown, checked, strict=True):
            valid[index] = is_valid
        if cache is not None and remember and not take:
            cache.add_keys(
                [keys[i] for i, is_valid in zip(unknown, checked, strict=True) if is_valid]
            )
        return valid

    def _held_copy(self, message: types_pb2.Transaction) -> DecodedTransaction | None:
        """The held transaction whose canonical encoding the message has, if any: found by id
        (the hash of its body), then its serialization compared with the held bytes. Equal bytes
        are the held transaction in every field, unknown ones included (which decoding would
        refuse); one serialization and one comparison cost less than comparing field by field
        and sizing. A message that serializes otherwise (even one equal in content, which the
        canonical form makes impossible here) is decoded on its own, never taken for the held."""
        assert self._held is not None
        held = self._held(self._profile.hash(message.body))
        if held is None or message.SerializeToString() != held.encoded:
            return None
        return held

    def signature_error(self, transaction: DecodedTransaction) -> SignatureError:
        # Names the chain: two networks that share a chain id (and member names such as
        # org1/client) otherwise answer each other's transactions with a bare signature error.
        return SignatureError(
            f"the signature of transaction {transaction.id.hex()} does not verify "
            f"with the key that chain {self._chain_id!r} holds for {transaction.body.sender} "
            f"(signed with another key, or for another network with the same chain id?)"
        )

    def _sender(
        self, sender: str, member: types_pb2.Member | None, *, query: bool
    ) -> Sender | RequestError:
        """The sender's public key and roles from its member record, or why it may not send
        anything (what it may send is checked per transaction; any member may query)."""
        if member is None:
            return UnknownMemberError(f"sender {sender!r} is not a member of the chain")
        roles = frozenset(member.roles)
        if not query and roles.isdisjoint(_SENDING_ROLES):
            return PermissionDeniedError(
                f"sender {sender} has neither the CLIENT nor the ADMIN role"
            )
        if member.algorithm not in self._profile.algorithms:
            return SignatureError(
                f"sender {sender} has a {member.algorithm!r} key, which the "
                f"{self._profile.name} profile does not allow"
            )
        try:
            return load_public_key(member.algorithm, member.public_key), roles
        except CryptoError as error:
            return SignatureError(f"the public key of {sender} cannot be loaded: {error.message}")


def _too_large(size: int, bytes_max: int) -> LimitExceededError:
    # The same words as decode_transaction's, so that the refusal reads alike on every path.
    return LimitExceededError(f"Transaction is {size} bytes, above the limit of {bytes_max}")
