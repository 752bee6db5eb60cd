// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// The ERC-20 voucher of one Causeway denomination path ("transfer/<client>/<denom>"), deployed
/// by CausewayTransfer on the first receipt; only that app mints and burns. Causeway amounts are
/// whole units: 0 decimals.
contract CausewayVoucher {
    string public name;
    string public symbol;
    uint8 public constant decimals = 0;
    uint256 public totalSupply;
    address public immutable minter;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory denomPath) {
        name = denomPath;
        symbol = "CWV";
        minter = msg.sender;
    }

    modifier onlyMinter() {
        require(msg.sender == minter, "only the transfer app mints and burns");
        _;
    }

    function mint(address to, uint256 amount) external onlyMinter {
        require(to != address(0), "mint to the zero address");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    /// Burns `amount` of `from`'s vouchers: called by the app when `from` sends them home.
    function burn(address from, uint256 amount) external onlyMinter {
        require(balanceOf[from] >= amount, "balance too low");
        balanceOf[from] -= amount;
        totalSupply -= amount;
        emit Transfer(from, address(0), amount);
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, "allowance too low");
        if (allowed != type(uint256).max) {
            allowance[from][msg.sender] = allowed - amount;
        }
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        require(to != address(0), "transfer to the zero address");
        require(balanceOf[from] >= amount, "balance too low");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
