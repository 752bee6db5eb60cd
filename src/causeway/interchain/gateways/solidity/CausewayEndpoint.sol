// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// An application bound to a port of the endpoint (CausewayTransfer on "transfer").
interface ICausewayApp {
    /// A packet from the hub for this app's port. Returns the acknowledgement's `result`; a
    /// revert becomes a failed acknowledgement carrying the reason, and undoes what the app did.
    function onReceive(bytes calldata packet) external returns (bytes memory result);

    /// The hub's acknowledgement (ACK_ABI) of a packet this app sent.
    function onAcknowledge(bytes calldata packet, bytes calldata acknowledgement) external;

    /// A packet this app sent that the hub never received before its timeout.
    function onTimeout(bytes calldata packet) external;
}

/// The EVM end of a Causeway hub link (docs/gateways.md). Packets to the hub are emitted as
/// PacketSent events and proven on the hub by receipt proofs against headers the gateway
/// committee attested; packets, acknowledgements and timeouts from the hub are accepted once
/// `threshold` distinct committee members have signed them. The committee is fixed here.
contract CausewayEndpoint {
    // Slot 0: the hub proves "never received" (for its timeouts) with a storage proof of this
    // mapping; it must stay the first state variable.
    mapping(bytes32 => bool) public received;

    /// Packets this endpoint sent and that are still in flight (neither acknowledged nor timed
    /// out), by packet hash.
    mapping(bytes32 => bool) public commitments;
    /// Committee-signed digests that reached the threshold and were executed.
    mapping(bytes32 => bool) public executed;
    /// Who signed which digest, and how many distinct members did.
    mapping(bytes32 => mapping(address => bool)) public signedBy;
    mapping(bytes32 => uint256) public signatureCount;
    mapping(address => bool) public isMember;
    mapping(string => address) public appOf;
    mapping(address => string) public portOf;

    address[] private committee;
    uint256 public immutable threshold;
    string public localClientId;
    string public hubClientId;
    uint64 public nextSequence;

    string public constant RECEIVE_DOMAIN = "causeway-evm-receive-v1";
    string public constant ACKNOWLEDGE_DOMAIN = "causeway-evm-acknowledge-v1";
    string public constant TIMEOUT_DOMAIN = "causeway-evm-timeout-v1";
    // What an application's onReceive may use at least: the call is in a try, so with less gas
    // it would fail for want of gas and the packet would be acknowledged as failed by whoever
    // sent the k-th signature with too little (a first receipt deploys a voucher: ~1M gas).
    uint256 public constant APPLICATION_GAS_MIN = 2_000_000;
    // s above half the curve order is the malleable twin of a valid signature: refused.
    uint256 private constant HALF_ORDER =
        0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0;

    struct Packet {
        string sourceClient;
        string destinationClient;
        uint64 sequence;
        int64 timeoutMs;
        string sourcePort;
        string destinationPort;
        string version;
        string encoding;
        bytes value;
    }

    event PacketSent(bytes32 indexed packetHash, bytes packet);
    event AcknowledgementWritten(bytes32 indexed packetHash, bytes packet, bytes acknowledgement);
    event PacketAcknowledged(bytes32 indexed packetHash);
    event PacketTimedOut(bytes32 indexed packetHash);
    event Attested(bytes32 indexed digest, address signer);

    constructor(
        string memory localClientId_,
        string memory hubClientId_,
        address[] memory committee_,
        uint256 threshold_
    ) {
        require(committee_.length >= 1 && committee_.length <= 16, "committee of 1 to 16");
        require(
            threshold_ * 2 > committee_.length && threshold_ <= committee_.length,
            "threshold must be more than half of the committee and at most all of it"
        );
        for (uint256 i = 0; i < committee_.length; i++) {
            require(committee_[i] != address(0), "committee member is the zero address");
            require(!isMember[committee_[i]], "committee members must be distinct");
            isMember[committee_[i]] = true;
        }
        committee = committee_;
        threshold = threshold_;
        localClientId = localClientId_;
        hubClientId = hubClientId_;
        nextSequence = 1;
    }

    function committeeMembers() external view returns (address[] memory) {
        return committee;
    }

    /// Binds `port` to the calling contract, first come first served (an app binds its port in
    /// its constructor, deployed right after the endpoint).
    function bindPort(string calldata port) external {
        require(bytes(port).length > 0, "empty port");
        require(appOf[port] == address(0), "port already bound");
        require(bytes(portOf[msg.sender]).length == 0, "caller already bound to a port");
        appOf[port] = msg.sender;
        portOf[msg.sender] = port;
    }

    /// Sends a packet from the caller's port to `destinationPort` on the hub; returns its
    /// sequence (from 1) and hash. Only a bound app may send.
    function sendPacket(
        string calldata destinationPort,
        string calldata version,
        string calldata encoding,
        bytes calldata value,
        int64 timeoutMs
    ) external returns (uint64 sequence, bytes32 packetHash) {
        string memory sourcePort = portOf[msg.sender];
        require(bytes(sourcePort).length > 0, "caller is not bound to a port");
        require(
            timeoutMs > 0 && uint256(int256(timeoutMs)) > block.timestamp * 1000,
            "timeout already passed"
        );
        sequence = nextSequence++;
        bytes memory packet = abi.encode(
            localClientId,
            hubClientId,
            sequence,
            timeoutMs,
            sourcePort,
            destinationPort,
            version,
            encoding,
            value
        );
        packetHash = keccak256(packet);
        commitments[packetHash] = true;
        emit PacketSent(packetHash, packet);
    }

    /// A packet from the hub, with the caller's committee signature over its receive digest.
    function receivePacket(bytes calldata packet, bytes calldata signature) external {
        bytes32 packetHash = keccak256(packet);
        bytes32 digest = keccak256(
            abi.encode(RECEIVE_DOMAIN, block.chainid, address(this), packetHash)
        );
        Packet memory decoded = decodePacket(packet);
        require(_same(decoded.destinationClient, localClientId), "packet is not for this endpoint");
        require(_same(decoded.sourceClient, hubClientId), "packet is not from the hub's client");
        if (!_collect(digest, signature) || received[packetHash]) {
            return;
        }
        // Checked when it would execute: a packet past its timeout is never received (the hub
        // will refund it on a proof that `received` stays empty).
        require(
            uint256(int256(decoded.timeoutMs)) > block.timestamp * 1000,
            "packet timed out"
        );
        received[packetHash] = true;
        bytes memory acknowledgement;
        address app = appOf[decoded.destinationPort];
        if (app == address(0)) {
            acknowledgement = abi.encode(false, bytes(""), "no application bound to the port");
        } else {
            // 64/63: the EVM passes on at most 63/64 of what is left.
            require(gasleft() >= APPLICATION_GAS_MIN * 64 / 63 + 50_000, "not enough gas for the application");
            try ICausewayApp(app).onReceive{gas: APPLICATION_GAS_MIN}(packet) returns (bytes memory result) {
                acknowledgement = abi.encode(true, result, "");
            } catch Error(string memory reason) {
                acknowledgement = abi.encode(false, bytes(""), reason);
            } catch {
                acknowledgement = abi.encode(false, bytes(""), "the application failed");
            }
        }
        emit AcknowledgementWritten(packetHash, packet, acknowledgement);
    }

    /// The hub's acknowledgement (ACK_ABI) of a packet this endpoint sent.
    function acknowledgePacket(
        bytes calldata packet,
        bytes calldata acknowledgement,
        bytes calldata signature
    ) external {
        bytes32 packetHash = keccak256(packet);
        bytes32 digest = keccak256(
            abi.encode(
                ACKNOWLEDGE_DOMAIN,
                block.chainid,
                address(this),
                packetHash,
                keccak256(acknowledgement)
            )
        );
        _recoverMember(digest, signature);
        require(executed[digest] || commitments[packetHash], "packet is not in flight");
        if (!_collect(digest, signature)) {
            return;
        }
        abi.decode(acknowledgement, (bool, bytes, string));
        delete commitments[packetHash];
        Packet memory decoded = decodePacket(packet);
        ICausewayApp(appOf[decoded.sourcePort]).onAcknowledge(packet, acknowledgement);
        emit PacketAcknowledged(packetHash);
    }

    /// A packet this endpoint sent that the hub never received before its timeout.
    function timeoutPacket(bytes calldata packet, bytes calldata signature) external {
        bytes32 packetHash = keccak256(packet);
        bytes32 digest = keccak256(
            abi.encode(TIMEOUT_DOMAIN, block.chainid, address(this), packetHash)
        );
        _recoverMember(digest, signature);
        require(executed[digest] || commitments[packetHash], "packet is not in flight");
        if (!_collect(digest, signature)) {
            return;
        }
        delete commitments[packetHash];
        Packet memory decoded = decodePacket(packet);
        ICausewayApp(appOf[decoded.sourcePort]).onTimeout(packet);
        emit PacketTimedOut(packetHash);
    }

    function decodePacket(bytes calldata packet) public pure returns (Packet memory decoded) {
        (
            decoded.sourceClient,
            decoded.destinationClient,
            decoded.sequence,
            decoded.timeoutMs,
            decoded.sourcePort,
            decoded.destinationPort,
            decoded.version,
            decoded.encoding,
            decoded.value
        ) = abi.decode(packet, (string, string, uint64, int64, string, string, string, string, bytes));
    }

    /// Records the caller's signature over `digest`; true exactly once, when the threshold-th
    /// distinct member signs. A digest already executed, or signed again by the same member, is
    /// a no-op (false). A signature no member made reverts.
    function _collect(bytes32 digest, bytes calldata signature) private returns (bool) {
        address signer = _recoverMember(digest, signature);
        if (executed[digest] || signedBy[digest][signer]) {
            return false;
        }
        signedBy[digest][signer] = true;
        emit Attested(digest, signer);
        if (++signatureCount[digest] < threshold) {
            return false;
        }
        executed[digest] = true;
        return true;
    }

    function _recoverMember(bytes32 digest, bytes calldata signature) private view returns (address) {
        require(signature.length == 65, "not a committee member");
        bytes32 r = bytes32(signature[0:32]);
        bytes32 s = bytes32(signature[32:64]);
        uint8 v = uint8(signature[64]);
        require(
            (v == 27 || v == 28) && uint256(s) <= HALF_ORDER && uint256(s) > 0,
            "not a committee member"
        );
        address signer = ecrecover(digest, v, r, s);
        require(signer != address(0) && isMember[signer], "not a committee member");
        return signer;
    }

    function _same(string memory a, string memory b) private pure returns (bool) {
        return keccak256(bytes(a)) == keccak256(bytes(b));
    }
}
