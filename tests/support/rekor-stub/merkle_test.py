#!/usr/bin/python3
"""rekor-stub's incremental Merkle tree (Tree) against RFC 6962 computed from scratch (mth, path)
and against RFC 9162 2.1.3.2 proof verification, at every size 0..300 as the tree grows (the
cached right edge must follow appends). Exit status 0 on success.

    /usr/bin/python3 tests/support/rekor-stub/merkle_test.py"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("rekor_stub", os.path.join(HERE, "rekor_stub.py"))
stub = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stub)

MAX = int(sys.argv[1]) if len(sys.argv) > 1 else 300


def verify_inclusion(index, size, leaf, proof, root):
    # RFC 9162 2.1.3.2, independent of the stub's recursion.
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = stub.node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = stub.node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def main():
    failures = 0
    checks = 0

    def check(cond, what):
        nonlocal failures, checks
        checks += 1
        if not cond:
            failures += 1
            if failures <= 20:
                print("FAIL:", what)

    for n in range(1, 9):  # split_point as RFC 6962 defines it: largest power of two < n
        k = 1
        while k * 2 < n:
            k *= 2
        if n > 1:
            check(stub.split_point(n) == k, "split_point(%d)" % n)

    tree = stub.Tree()
    leaves = []
    check(tree.root() == stub.sha256(b""), "empty root")
    for n in range(1, MAX + 1):
        lh = stub.leaf_hash(b"entry %d" % n)
        tree.append(lh)
        leaves.append(lh)
        check(len(tree) == n and tree.leaf(n - 1) == lh, "size %d" % n)
        root = tree.root()
        check(root == stub.mth(leaves), "root at size %d" % n)
        # every index: an independent verifier; from-scratch PATH for all of them while small,
        # then the first, last, middle and a stride (PATH from scratch is O(n) each)
        scratch = set(range(n)) if n <= 64 else {0, 1, n // 2, n - 2, n - 1} | set(range(0, n, 13))
        for m in range(n):
            proof = tree.path(m)
            check(verify_inclusion(m, n, leaves[m], proof, root), "proof for %d at size %d verifies" % (m, n))
            if m in scratch:
                check(proof == stub.path(m, leaves), "proof for %d at size %d == PATH" % (m, n))
        check(tree.root() == root, "root stable at size %d" % n)
        # a wrong proof must not verify (the verifier is not vacuous)
        if n > 1:
            bad = tree.path(n - 1)
            bad[0] = stub.sha256(b"wrong")
            check(not verify_inclusion(n - 1, n, leaves[n - 1], bad, root), "bad proof rejected at size %d" % n)
    print("%d checks, %d failures (sizes 1..%d)" % (checks, failures, MAX))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
