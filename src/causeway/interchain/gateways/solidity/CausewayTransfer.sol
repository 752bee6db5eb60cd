// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import "./CausewayEndpoint.sol";
import "./CausewayVoucher.sol";

interface IERC20Like {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// The ICS-20-style transfer app on port "transfer" (docs/gateways.md). Tokens from Causeway
/// arrive as CausewayVoucher ERC-20s, one per path "transfer/<localClientId>/<denom as sent>",
/// minted on receive and burned when sent home; EVM-native ERC-20s ("erc20/0x<address>") go out
/// by escrow and come back by release. A failed or timed-out send is refunded.
contract CausewayTransfer is ICausewayApp {
    string public constant PORT = "transfer";
    string public constant VERSION = "ics20-1";
    string public constant ENCODING = "application/x-solidity-abi";
    string private constant ERC20_PREFIX = "erc20/";

    CausewayEndpoint public immutable endpoint;
    mapping(string => address) private vouchers;
    /// Escrowed amount per EVM-native token: what may be released.
    mapping(address => uint256) public escrowed;

    event TransferSent(uint64 indexed sequence, string denom, uint256 amount, address sender, string receiver);
    event TransferReceived(string denom, uint256 amount, string sender, address receiver);
    event TransferRefunded(string denom, uint256 amount, address sender);

    constructor(CausewayEndpoint endpoint_) {
        endpoint = endpoint_;
        endpoint_.bindPort(PORT);
    }

    modifier onlyEndpoint() {
        require(msg.sender == address(endpoint), "only the endpoint calls the app");
        _;
    }

    /// The voucher ERC-20 of a denomination path, or the zero address before its first receipt.
    function voucherOf(string calldata denom) external view returns (address) {
        return vouchers[denom];
    }

    /// Sends `amount` of `denom` to `receiver` on the hub (a Causeway address, or a forward in
    /// `memo`). `denom` is a voucher's path ("transfer/<localClientId>/...": burned) or
    /// "erc20/0x<token>" (escrowed: approve this app first). Returns the packet's sequence.
    function sendTransfer(
        string calldata denom,
        uint256 amount,
        string calldata receiver,
        int64 timeoutMs,
        bytes calldata memo
    ) external returns (uint64 sequence) {
        require(amount > 0, "amount must be positive");
        require(amount <= type(uint64).max, "amount does not fit Causeway's 64 bits");
        require(bytes(receiver).length > 0, "empty receiver");
        if (_startsWith(denom, _voucherPrefix())) {
            address voucher = vouchers[denom];
            require(voucher != address(0), "no voucher of that denomination");
            CausewayVoucher(voucher).burn(msg.sender, amount);
        } else if (_startsWith(denom, ERC20_PREFIX)) {
            address token = _parseAddress(bytes(denom[6:]));
            require(
                keccak256(bytes(denom)) == keccak256(bytes(_erc20Denom(token))),
                "erc20 denomination must be erc20/0x<lower-case address>"
            );
            require(
                IERC20Like(token).transferFrom(msg.sender, address(this), amount),
                "escrow transfer failed"
            );
            escrowed[token] += amount;
        } else {
            revert("unknown denomination: a voucher path or erc20/0x<address>");
        }
        bytes memory data = abi.encode(denom, amount, _hexAddress(msg.sender), receiver, memo);
        (sequence, ) = endpoint.sendPacket(PORT, VERSION, ENCODING, data, timeoutMs);
        emit TransferSent(sequence, denom, amount, msg.sender, receiver);
    }

    function onReceive(bytes calldata packet) external onlyEndpoint returns (bytes memory) {
        CausewayEndpoint.Packet memory decoded = endpoint.decodePacket(packet);
        require(_same(decoded.version, VERSION), "unsupported transfer version");
        require(_same(decoded.encoding, ENCODING), "unsupported transfer encoding");
        (string memory denom, uint256 amount, string memory sender, string memory receiver, ) =
            abi.decode(decoded.value, (string, uint256, string, string, bytes));
        require(amount > 0, "amount must be positive");
        address to = _parseAddress(bytes(receiver));
        string memory homePrefix = string.concat(decoded.sourcePort, "/", decoded.sourceClient, "/");
        if (_startsWith(denom, homePrefix)) {
            // Coming home: an EVM-native token escrowed when it left.
            string memory native = _slice(denom, bytes(homePrefix).length);
            require(_startsWith(native, ERC20_PREFIX), "not a token of this chain");
            address token = _parseAddress(bytes(_slice(native, 6)));
            require(escrowed[token] >= amount, "more than escrowed");
            escrowed[token] -= amount;
            require(IERC20Like(token).transfer(to, amount), "release failed");
        } else {
            string memory path = string.concat(_voucherPrefix(), denom);
            address voucher = vouchers[path];
            if (voucher == address(0)) {
                voucher = address(new CausewayVoucher(path));
                vouchers[path] = voucher;
            }
            CausewayVoucher(voucher).mint(to, amount);
        }
        emit TransferReceived(denom, amount, sender, to);
        return hex"01";
    }

    function onAcknowledge(bytes calldata packet, bytes calldata acknowledgement) external onlyEndpoint {
        (bool success, , ) = abi.decode(acknowledgement, (bool, bytes, string));
        if (!success) {
            _refund(packet);
        }
    }

    function onTimeout(bytes calldata packet) external onlyEndpoint {
        _refund(packet);
    }

    function _refund(bytes calldata packet) private {
        CausewayEndpoint.Packet memory decoded = endpoint.decodePacket(packet);
        (string memory denom, uint256 amount, string memory sender, , ) =
            abi.decode(decoded.value, (string, uint256, string, string, bytes));
        address to = _parseAddress(bytes(sender));
        if (_startsWith(denom, _voucherPrefix())) {
            CausewayVoucher(vouchers[denom]).mint(to, amount);
        } else {
            address token = _parseAddress(bytes(_slice(denom, 6)));
            escrowed[token] -= amount;
            require(IERC20Like(token).transfer(to, amount), "refund failed");
        }
        emit TransferRefunded(denom, amount, to);
    }

    function _voucherPrefix() private view returns (string memory) {
        return string.concat(PORT, "/", endpoint.localClientId(), "/");
    }

    function _erc20Denom(address token) private pure returns (string memory) {
        return string.concat(ERC20_PREFIX, _hexAddress(token));
    }

    /// "0x" and 40 hex digits, either case (a checksum is not checked); reverts otherwise.
    function _parseAddress(bytes memory text) private pure returns (address) {
        require(text.length == 42 && text[0] == "0" && (text[1] == "x" || text[1] == "X"), "not an address: 0x and 40 hex digits");
        uint160 value = 0;
        for (uint256 i = 2; i < 42; i++) {
            uint8 c = uint8(text[i]);
            uint8 digit;
            if (c >= 48 && c <= 57) {
                digit = c - 48;
            } else if (c >= 97 && c <= 102) {
                digit = c - 87;
            } else if (c >= 65 && c <= 70) {
                digit = c - 55;
            } else {
                revert("not an address: 0x and 40 hex digits");
            }
            value = value * 16 + digit;
        }
        return address(value);
    }

    function _hexAddress(address account) private pure returns (string memory) {
        bytes memory digits = "0123456789abcdef";
        bytes memory text = new bytes(42);
        text[0] = "0";
        text[1] = "x";
        uint160 value = uint160(account);
        for (uint256 i = 41; i >= 2; i--) {
            text[i] = digits[value & 0xf];
            value >>= 4;
        }
        return string(text);
    }

    function _startsWith(string memory text, string memory prefix) private pure returns (bool) {
        bytes memory t = bytes(text);
        bytes memory p = bytes(prefix);
        if (t.length < p.length) {
            return false;
        }
        for (uint256 i = 0; i < p.length; i++) {
            if (t[i] != p[i]) {
                return false;
            }
        }
        return true;
    }

    function _slice(string memory text, uint256 start) private pure returns (string memory) {
        bytes memory t = bytes(text);
        bytes memory out = new bytes(t.length - start);
        for (uint256 i = start; i < t.length; i++) {
            out[i - start] = t[i];
        }
        return string(out);
    }

    function _same(string memory a, string memory b) private pure returns (bool) {
        return keccak256(bytes(a)) == keccak256(bytes(b));
    }
}
