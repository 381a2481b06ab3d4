"""Reference values for recsvc/test/explanations.test.ts from the `implicit` library's own ALS `explain`.

Run: python3 -m venv /tmp/venv && /tmp/venv/bin/pip install implicit==0.7.2 && /tmp/venv/bin/python3 this-file
implicit's explain takes confidences c_uj in user_items (with model.alpha = 1); the service's confidence is
c_uj = 1 + alpha * w_uj, so the same numbers are passed here.
"""
import json

import numpy as np
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

MOD = 2147483647


def lcg(seed):
    # The test's generator (Park-Miller, exact in doubles): seed = seed * 16807 % (2^31 - 1); value = seed / (2^31 - 1) * 2 - 1
    while True:
        seed = seed * 16807 % MOD
        yield seed / MOD * 2 - 1


def explain(Y, regularization, alpha, weights, targets):
    n_items, f = Y.shape
    model = AlternatingLeastSquares(factors=f, regularization=regularization, alpha=1.0, random_state=0)
    model.item_factors = Y.astype(np.float32)
    model.user_factors = np.zeros((1, f), dtype=np.float32)
    items = sorted(weights)
    conf = [1 + alpha * weights[j] for j in items]
    user_items = sp.csr_matrix((conf, ([0] * len(items), items)), shape=(1, n_items))
    out = []
    for t in targets:
        total, top, _ = model.explain(0, user_items, t, N=len(items))
        out.append({"target": t, "total": total, "contributions": {str(j): s for j, s in top}})
    return out


hand = np.array([[1, 0], [0, 1], [1, 1], [0.5, -0.5]], dtype=np.float32)
gen = lcg(7)
rand = np.array([[next(gen) for _ in range(5)] for _ in range(12)], dtype=np.float32)
print(json.dumps({
    "hand": explain(hand, 0.5, 2.0, {0: 1.0, 2: 0.5}, [1]),
    "random": explain(rand, 0.1, 3.0, {1: 1.0, 4: 0.5, 7: 1.8, 9: 0.3}, [0, 2, 11]),
}, indent=1))
