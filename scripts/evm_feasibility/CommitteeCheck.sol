// SPDX-License-Identifier: MIT
// Checks that solcjs compiles ecrecover, the primitive the gateway's receive
// path needs to verify k-of-n committee signatures on the EVM side.
pragma solidity ^0.8.20;

contract CommitteeCheck {
    mapping(address => bool) public isMember;
    uint256 public threshold;

    constructor(address[] memory members, uint256 requiredSignatures) {
        for (uint256 index = 0; index < members.length; index++) {
            isMember[members[index]] = true;
        }
        threshold = requiredSignatures;
    }

    // Signers must be strictly increasing so that one key cannot count twice.
    function verify(bytes32 digest, uint8[] calldata v, bytes32[] calldata r, bytes32[] calldata s)
        external
        view
        returns (bool)
    {
        require(v.length == r.length && r.length == s.length, "lengths");
        address previous = address(0);
        uint256 valid = 0;
        for (uint256 index = 0; index < v.length; index++) {
            address signer = ecrecover(digest, v[index], r[index], s[index]);
            require(signer != address(0) && signer > previous, "order");
            previous = signer;
            if (isMember[signer]) {
                valid++;
            }
        }
        return valid >= threshold;
    }
}
