// SPDX-License-Identifier: MIT OR Apache-2.0
pragma solidity ^0.8.24;

/// bevm's Bitcoin light client, a precompile (see docs/ARCHITECTURE.md). Hashes are bytes32 in
/// display order, as explorers show them.
interface IBitcoinLight {
    function bestBlock() external view returns (uint32 height, bytes32 blockHash);
    function headerAt(uint32 height) external view returns (bytes32 blockHash, bytes memory header);
    function verifyTxInclusion(bytes32 txid, bytes32 blockHash, bytes calldata proof, uint32 minConfirmations)
        external view returns (uint32 blockHeight, uint32 txIndex, uint32 confirmations);
}

/// Holds L2 BTC for a seller until anyone proves that a Bitcoin transaction paid the seller's
/// Bitcoin script at least `amountSat`, with `minConfirmations` on the light client's best chain.
contract BtcPaymentEscrow {
    IBitcoinLight public constant LIGHT = IBitcoinLight(0x000000000000000000000000000000000000b7C0);

    address payable public immutable seller;
    bytes public sellerScript;
    uint64 public immutable amountSat;
    uint32 public immutable minConfirmations;
    bool public released;

    event Released(bytes32 txid, uint32 blockHeight, uint256 amountWei);

    constructor(address payable seller_, bytes memory sellerScript_, uint64 amountSat_, uint32 minConfirmations_)
        payable
    {
        seller = seller_;
        sellerScript = sellerScript_;
        amountSat = amountSat_;
        minConfirmations = minConfirmations_;
    }

    /// `rawTx` is the payment without witness data (so that its double SHA-256 is the txid);
    /// `proof` is `gettxoutproof` output for it and the block's coinbase.
    function release(bytes calldata rawTx, bytes32 blockHash, bytes calldata proof) external {
        require(!released, "already released");
        // A 64-byte transaction could pass for an inner merkle node.
        require(rawTx.length != 64, "64-byte transactions are refused");
        bytes32 txid = reverse(sha256(abi.encodePacked(sha256(rawTx))));
        (uint32 height,,) = LIGHT.verifyTxInclusion(txid, blockHash, proof, minConfirmations);
        require(paysSeller(rawTx), "no output pays the seller enough");
        released = true;
        uint256 amount = address(this).balance;
        emit Released(txid, height, amount);
        (bool ok,) = seller.call{value: amount}("");
        require(ok, "transfer failed");
    }

    /// Whether an output of the (non-witness) transaction pays `sellerScript` at least `amountSat`.
    function paysSeller(bytes calldata t) public view returns (bool) {
        uint256 p = 4; // version
        uint256 n;
        (n, p) = varint(t, p);
        for (uint256 i = 0; i < n; i++) {
            p += 36; // previous output
            uint256 len;
            (len, p) = varint(t, p);
            p += len + 4; // script, sequence
        }
        (n, p) = varint(t, p);
        bytes32 want = keccak256(sellerScript);
        for (uint256 i = 0; i < n; i++) {
            uint64 value = uint64(le(t, p, 8));
            p += 8;
            uint256 len;
            (len, p) = varint(t, p);
            if (value >= amountSat && keccak256(t[p:p + len]) == want) return true;
            p += len;
        }
        return false;
    }

    function varint(bytes calldata t, uint256 p) internal pure returns (uint256 value, uint256 next) {
        uint8 first = uint8(t[p]);
        if (first < 0xfd) return (first, p + 1);
        if (first == 0xfd) return (le(t, p + 1, 2), p + 3);
        if (first == 0xfe) return (le(t, p + 1, 4), p + 5);
        return (le(t, p + 1, 8), p + 9);
    }

    function le(bytes calldata t, uint256 p, uint256 size) internal pure returns (uint256 v) {
        for (uint256 i = 0; i < size; i++) {
            v |= uint256(uint8(t[p + i])) << (8 * i);
        }
    }

    function reverse(bytes32 h) internal pure returns (bytes32 r) {
        for (uint256 i = 0; i < 32; i++) {
            r |= bytes32(uint256(uint8(h[i])) << (8 * i));
        }
    }
}
