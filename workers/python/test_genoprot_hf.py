"""Unit tests of the adapter's pure parts (no torch needed):
    python -m unittest discover -s workers/python
"""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genoprot_hf as g  # noqa: E402


class Windows(unittest.TestCase):
    def test_like_the_native_rule(self):
        self.assertEqual(g.windows(5, 8), [(0, 5)])
        self.assertEqual(g.windows(8, 8), [(0, 8)])
        # stride = window, the last window aligned to the end
        self.assertEqual(g.windows(10, 4), [(0, 4), (4, 8), (6, 10)])

    def test_every_token_is_covered(self):
        for n in range(1, 40):
            for w in range(1, 12):
                covered = set()
                for a, b in g.windows(n, w):
                    self.assertTrue(0 <= a < b <= n and b - a <= w)
                    covered.update(range(a, b))
                self.assertEqual(covered, set(range(n)))


class Batches(unittest.TestCase):
    def test_budget_and_order(self):
        lens = [5, 30, 7, 7, 100, 2]
        batches = g.token_batches(lens, 40)
        self.assertEqual(sorted(i for b in batches for i in b), list(range(len(lens))))
        for b in batches:
            longest = max(lens[i] for i in b)
            self.assertTrue(len(b) == 1 or longest * len(b) <= 40, (b, lens))
        # longest first
        self.assertEqual(batches[0], [4])


class Pooling(unittest.TestCase):
    def test_windows_combine(self):
        parts = [(1.0, 3), (3.0, 1)]
        self.assertAlmostEqual(g.combine(parts, "mean"), 1.5)
        self.assertAlmostEqual(g.combine(parts, "cls"), 2.0)
        self.assertAlmostEqual(g.combine(parts, "last"), 3.0)


class Inputs(unittest.TestCase):
    def test_fasta_and_arguments(self):
        with tempfile.NamedTemporaryFile("w", suffix=".fa", delete=False) as f:
            f.write(">g1 some description\nMKV\nLL\n>g2\nAC\n")
        try:
            self.assertEqual(g.read_fasta(f.name), [("g1", "MKVLL"), ("g2", "AC")])
        finally:
            os.unlink(f.name)
        a = g.parse_args(["--weights", "w", "--in", "x.fa", "--out", "o.h5", "--pooling", "last"])
        self.assertEqual((a.pooling, a.layer, a.dtype, a.max_tokens), ("last", -1, "float32", 4096))
        with self.assertRaises(SystemExit) as e:
            g.parse_args(["--weights", "w", "--in", "x", "--out", "o", "--max-tokens", "1"])
        self.assertEqual(e.exception.code, 2)


if __name__ == "__main__":
    unittest.main()
