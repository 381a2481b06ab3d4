#!/usr/bin/env python3
"""Reference timings and accuracy for the training benchmark: implicit's ALS and lightfm's WARP.

Run with the venv made by bench/reference/setup.sh:

    bench/.venv/bin/python bench/reference/train_reference.py --data DIR [--factors 64 --threads 2 ...]

Prints one JSON object to stdout (progress goes to stderr).

Input: a dataset split written by the TypeScript benchmark into DIR. Every array is a raw little-endian file with
no header; its length follows from meta.json. Matrices are CSR with rows sorted by column and no duplicates
(exactly lib/src/sparse.ts's CsrMatrix: indptr, indices, data).

    meta.json                   {"format": "recsys-split", "version": 1,
                                 "n_users": U, "n_items": I, "n_genres": G,
                                 "train_nnz": N, "test_nnz": M, "item_features_nnz": F,
                                 ... any other keys (dataset name, seed, weighting) are ignored}
    train_indptr.i32            int32[U + 1]   user rows of the training interactions
    train_indices.i32           int32[N]       item ids in [0, I)
    train_data.f32              float32[N]     interaction weights (> 0): ALS confidence input
    test_indptr.i32             int32[U + 1]   held-out interactions, same layout
    test_indices.i32            int32[M]
    test_data.f32               float32[M]     (values unused: any test item is relevant)
    item_features_indptr.i32    int32[I + 1]   optional (absent or G = 0: identity features only)
    item_features_indices.i32   int32[F]       genre ids in [0, G)
    item_features_data.f32      float32[F]     feature weights (1 for a genre flag)

Models:
  * implicit.cpu.als.AlternatingLeastSquares on the train weights (conjugate gradient, float32). One warm-up fit
    of one iteration is made and discarded; then a full fit of --als-iterations is timed and divided by the
    iteration count (seconds_per_iteration); implicit's own per-iteration times are in iteration_seconds. implicit >= 0.7 takes confidence = alpha * weight; with
    --als-confidence one-plus it is given weight + 1/alpha, i.e. confidence 1 + alpha * weight (Hu, Koren & Volinsky,
    and the library under test), so that both fit the same objective.
  * lightfm.LightFM(loss='warp') with item features = [identity | genres] (I + G columns), each row scaled to sum
    to 1 as lightfm.data.Dataset does by default (--raw-item-features to keep them 0/1). Users get identity
    features. Positive interactions are all train entries (unweighted, unless --warp-sample-weight). Trained with
    fit_partial one epoch at a time, each epoch timed (fit_partial's own per-call input checks included).

Evaluation, after training, with the definitions of lib/src/evaluation.ts (lib/EVALUATION.md): each user's train
items are excluded, top-k by score (ties: lower item id first), users without test items skipped, macro averages:
    precision@k = hits / k;  recall@k = hits / |test|;
    nDCG@k = DCG / IDCG with binary gains, DCG = sum_i hit_i / log2(i + 1), IDCG over min(k, |test|) ranks;
    AP@k = sum_i hit_i * precision@i / min(k, |test|);  coverage = distinct recommended items / I.
The popularity baseline (train interaction count, ties by lower id, zero-count items never recommended) is
reported too. The output's machine.max_rss_mb is this process's peak resident set size.
"""

from __future__ import annotations

import os

# Before numpy loads: implicit wants single-threaded BLAS (it parallelises itself), and so does a fair timing.
for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.sparse as sp  # noqa: E402

FORMAT = "recsys-split"
FORMAT_VERSION = 1


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Input


def read_array(directory: Path, name: str, dtype: str, length: int) -> np.ndarray:
    path = directory / name
    array = np.fromfile(path, dtype=np.dtype(dtype).newbyteorder("<"))
    if array.shape[0] != length:
        raise SystemExit(f"{path}: {array.shape[0]} values, meta.json implies {length}")
    return array.astype(dtype, copy=False)


def read_csr(directory: Path, prefix: str, n_rows: int, n_cols: int, nnz: int) -> sp.csr_matrix:
    indptr = read_array(directory, f"{prefix}_indptr.i32", "int32", n_rows + 1)
    indices = read_array(directory, f"{prefix}_indices.i32", "int32", nnz)
    data = read_array(directory, f"{prefix}_data.f32", "float32", nnz)
    if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr) < 0):
        raise SystemExit(f"{prefix}_indptr.i32 is not a valid CSR row pointer for {nnz} entries")
    if nnz and (indices.min() < 0 or indices.max() >= n_cols):
        raise SystemExit(f"{prefix}_indices.i32 has ids outside [0, {n_cols})")
    return sp.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


def read_split(directory: Path) -> tuple[dict, sp.csr_matrix, sp.csr_matrix, sp.csr_matrix | None]:
    meta = json.loads((directory / "meta.json").read_text())
    if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
        raise SystemExit(f"{directory}/meta.json: expected format {FORMAT!r} version {FORMAT_VERSION}")
    n_users, n_items = int(meta["n_users"]), int(meta["n_items"])
    train = read_csr(directory, "train", n_users, n_items, int(meta["train_nnz"]))
    test = read_csr(directory, "test", n_users, n_items, int(meta["test_nnz"]))
    n_genres = int(meta.get("n_genres", 0))
    genres = None
    if n_genres > 0 and (directory / "item_features_indptr.i32").exists():
        genres = read_csr(directory, "item_features", n_items, n_genres, int(meta["item_features_nnz"]))
    return meta, train, test, genres


# ---------------------------------------------------------------------------------------------------------------
# Evaluation (lib/src/evaluation.ts, vectorised)


Scorer = Callable[[np.ndarray], np.ndarray]
"""Scores of every item (columns) for a block of user ids (rows)."""


def top_k(scores_for: Scorer, train: sp.csr_matrix, users: np.ndarray, k: int, batch: int = 1024) -> np.ndarray:
    """Top-k item ids per user in `users` (best first, ties by lower id, train items excluded, -1 padded)."""
    n_items = train.shape[1]
    out = np.full((users.shape[0], k), -1, dtype=np.int32)
    kk = min(k, n_items)
    for start in range(0, users.shape[0], batch):
        block = users[start : start + batch]
        scores = np.array(scores_for(block), dtype=np.float64)
        excluded = train[block]
        rows = np.repeat(np.arange(block.shape[0]), np.diff(excluded.indptr))
        scores[rows, excluded.indices] = -np.inf
        part = np.argpartition(-scores, kk - 1, axis=1)[:, :kk]
        part_scores = np.take_along_axis(scores, part, axis=1)
        order = np.lexsort((part, -part_scores), axis=1)
        chosen = np.take_along_axis(part, order, axis=1)
        chosen_scores = np.take_along_axis(part_scores, order, axis=1)
        # argpartition may cut through a tie at the k-th score; where more items tie with it than were taken,
        # re-rank that row so that the lower ids win (the TS popularity baseline does the same).
        kth = chosen_scores[:, -1]
        taken = (chosen_scores == kth[:, None]).sum(axis=1)
        tied = (scores == kth[:, None]).sum(axis=1)
        for r in np.flatnonzero(tied > taken):
            candidates = np.flatnonzero(scores[r] >= kth[r])
            ranked = candidates[np.lexsort((candidates, -scores[r, candidates]))][:kk]
            chosen[r] = ranked
            chosen_scores[r] = scores[r, ranked]
        chosen = np.where(np.isneginf(chosen_scores), -1, chosen)  # fewer than k rankable items: pad
        out[start : start + block.shape[0], :kk] = chosen
    return out


def ranking_metrics(test: sp.csr_matrix, users: np.ndarray, ranked: np.ndarray, k: int) -> dict:
    """The metrics of lib/src/evaluation.ts for users (each with >= 1 test item) and their top-k rows `ranked`."""
    n_items = test.shape[1]
    n = users.shape[0]
    if n == 0:
        return {"precision_at_k": 0.0, "recall_at_k": 0.0, "ndcg_at_k": 0.0, "map_at_k": 0.0, "coverage": 0.0,
                "users_evaluated": 0, "k": k}
    discount = 1.0 / np.log2(np.arange(k, dtype=np.float64) + 2.0)
    ideal_dcg = np.cumsum(discount)
    test_rows = test[users]
    n_test = np.diff(test_rows.indptr)
    # Membership through sorted (row, item) keys; top-k rows hold distinct items, -1 never matches.
    test_keys = np.repeat(np.arange(n, dtype=np.int64), n_test) * n_items + test_rows.indices
    ranked_keys = np.arange(n, dtype=np.int64)[:, None] * n_items + ranked
    at = np.minimum(np.searchsorted(test_keys, ranked_keys), test_keys.shape[0] - 1)
    hits = (test_keys[at] == ranked_keys) & (ranked >= 0)
    n_hits = hits.sum(axis=1).astype(np.float64)
    ideal = np.minimum(k, n_test)
    precision = n_hits / k
    recall = n_hits / n_test
    ndcg = (hits * discount).sum(axis=1) / ideal_dcg[ideal - 1]
    cumulative = np.cumsum(hits, axis=1) / np.arange(1, k + 1, dtype=np.float64)
    ap = (hits * cumulative).sum(axis=1) / ideal
    recommended = np.unique(ranked[ranked >= 0])
    return {
        "precision_at_k": float(precision.sum() / n),
        "recall_at_k": float(recall.sum() / n),
        "ndcg_at_k": float(ndcg.sum() / n),
        "map_at_k": float(ap.sum() / n),
        "coverage": float(recommended.shape[0] / n_items),
        "users_evaluated": int(n),
        "k": k,
    }


def evaluate(
    name: str, scores_for: Scorer, train: sp.csr_matrix, test: sp.csr_matrix, users: np.ndarray, k: int,
    dump_dir: Path | None,
) -> dict:
    started = time.perf_counter()
    ranked = top_k(scores_for, train, users, k)
    metrics = ranking_metrics(test, users, ranked, k)
    metrics["eval_seconds"] = time.perf_counter() - started
    if dump_dir is not None:
        # Same layout as evaluateTopK's topK: user-major over all users, -1 padded (users not evaluated: all -1).
        full = np.full((train.shape[0], k), -1, dtype="<i4")
        full[users] = ranked
        dump_dir.mkdir(parents=True, exist_ok=True)
        full.tofile(dump_dir / f"{name}_top{k}.i32")
    return metrics


# ---------------------------------------------------------------------------------------------------------------
# Models


def popularity_scores(train: sp.csr_matrix) -> Scorer:
    counts = np.bincount(train.indices, minlength=train.shape[1]).astype(np.float64)
    base = np.where(counts > 0, counts, -np.inf)  # never recommend items nobody interacted with
    return lambda block: np.broadcast_to(base, (block.shape[0], base.shape[0])).copy()


def run_als(args, train: sp.csr_matrix) -> tuple[dict, Scorer]:
    from implicit.cpu.als import AlternatingLeastSquares

    def make(iterations: int) -> AlternatingLeastSquares:
        return AlternatingLeastSquares(
            factors=args.factors,
            regularization=args.als_regularization,
            alpha=args.als_alpha,
            iterations=iterations,
            num_threads=args.threads,
            random_state=args.seed,
            calculate_training_loss=False,
        )

    user_items = train.astype(np.float32)
    if args.als_confidence == "one-plus":
        # implicit >= 0.7 uses confidence = alpha * data; data = 1/alpha + weight gives 1 + alpha * weight, the
        # confidence of Hu, Koren & Volinsky (and of the library under test): the same objective.
        user_items = user_items.copy()
        user_items.data += np.float32(1.0 / args.als_alpha)
    started = time.perf_counter()
    make(1).fit(user_items, show_progress=False)
    warmup = time.perf_counter() - started
    model = make(args.als_iterations)
    iteration_seconds: list[float] = []
    started = time.perf_counter()
    # implicit calls back after each iteration with that iteration's seconds (both half-steps).
    model.fit(user_items, show_progress=False, callback=lambda _it, elapsed, _loss: iteration_seconds.append(elapsed))
    fit_seconds = time.perf_counter() - started
    log(f"implicit ALS: {fit_seconds:.3f}s for {args.als_iterations} iterations")
    user_factors = np.asarray(model.user_factors)
    item_factors = np.asarray(model.item_factors)
    result = {
        "model": "implicit.cpu.als.AlternatingLeastSquares",
        "iterations": args.als_iterations,
        "fit_seconds": fit_seconds,
        "seconds_per_iteration": fit_seconds / args.als_iterations,
        "iteration_seconds": iteration_seconds,
        "median_seconds_per_iteration": statistics.median(iteration_seconds) if iteration_seconds else None,
        "warmup_seconds": warmup,
        "confidence": "alpha * weight" if args.als_confidence == "implicit" else "1 + alpha * weight",
    }
    return result, lambda block: user_factors[block] @ item_factors.T


def item_feature_matrix(n_items: int, genres: sp.csr_matrix | None, normalize: bool) -> sp.csr_matrix:
    parts = [sp.identity(n_items, dtype=np.float32, format="csr")]
    if genres is not None:
        parts.append(genres.astype(np.float32))
    features = sp.hstack(parts, format="csr", dtype=np.float32)
    if normalize:
        sums = np.asarray(features.sum(axis=1)).ravel()
        sums[sums == 0] = 1.0
        features = sp.diags(1.0 / sums).astype(np.float32) @ features
    return sp.csr_matrix(features, dtype=np.float32)


def run_warp(args, train: sp.csr_matrix, genres: sp.csr_matrix | None) -> tuple[dict, Scorer]:
    from lightfm import LightFM

    n_items = train.shape[1]
    features = item_feature_matrix(n_items, genres, normalize=not args.raw_item_features)
    interactions = train.tocoo()
    sample_weight = None
    if args.warp_sample_weight:
        sample_weight = sp.coo_matrix(interactions, dtype=np.float32)
    interactions = sp.coo_matrix(
        (np.ones_like(interactions.data, dtype=np.float32), (interactions.row, interactions.col)),
        shape=interactions.shape,
    )
    model = LightFM(
        loss="warp",
        no_components=args.factors,
        learning_rate=args.warp_learning_rate,
        max_sampled=args.warp_max_sampled,
        item_alpha=args.warp_item_alpha,
        user_alpha=args.warp_user_alpha,
        random_state=args.seed,
    )
    epoch_seconds = []
    for epoch in range(args.warp_epochs):
        started = time.perf_counter()
        model.fit_partial(
            interactions,
            item_features=features,
            sample_weight=sample_weight,
            epochs=1,
            num_threads=args.threads,
        )
        epoch_seconds.append(time.perf_counter() - started)
    log(f"lightfm WARP: {sum(epoch_seconds):.3f}s for {args.warp_epochs} epochs")
    item_biases, item_embeddings = model.get_item_representations(features)
    _, user_embeddings = model.get_user_representations()
    result = {
        "model": "lightfm.LightFM(loss='warp')",
        "epochs": args.warp_epochs,
        "fit_seconds": sum(epoch_seconds),
        "seconds_per_epoch": sum(epoch_seconds) / len(epoch_seconds),
        "median_seconds_per_epoch": statistics.median(epoch_seconds),
        "epoch_seconds": epoch_seconds,
        "item_feature_columns": int(features.shape[1]),
        "item_features_normalized": not args.raw_item_features,
        "sample_weight": bool(args.warp_sample_weight),
        "deterministic": args.threads == 1,
    }
    # The user bias is constant within a user's ranking, so it is left out.
    return result, lambda block: user_embeddings[block] @ item_embeddings.T + item_biases


# ---------------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", type=Path, required=True, help="directory holding meta.json and the CSR arrays")
    p.add_argument("--models", default="als,warp", help="comma-separated subset of: als, warp")
    p.add_argument("--factors", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--als-iterations", type=int, default=15)
    p.add_argument("--als-regularization", type=float, default=0.01, help="implicit's default")
    p.add_argument("--als-alpha", type=float, default=1.0, help="confidence = alpha * weight (implicit >= 0.7)")
    p.add_argument("--als-confidence", choices=("implicit", "one-plus"), default="implicit",
                   help="implicit: confidence = alpha * weight (implicit's own); one-plus: 1 + alpha * weight "
                        "(implicit is given weight + 1/alpha)")
    p.add_argument("--warp-epochs", type=int, default=30)
    p.add_argument("--warp-learning-rate", type=float, default=0.05, help="lightfm's default")
    p.add_argument("--warp-max-sampled", type=int, default=10, help="lightfm's default")
    p.add_argument("--warp-item-alpha", type=float, default=0.0)
    p.add_argument("--warp-user-alpha", type=float, default=0.0)
    p.add_argument("--warp-sample-weight", action="store_true", help="weight WARP updates by the train weights")
    p.add_argument("--raw-item-features", action="store_true", help="do not scale item feature rows to sum 1")
    p.add_argument("--dump-topk", type=Path, help="write MODEL_topK.i32 (nUsers*k int32, -1 padded) here")
    args = p.parse_args(argv)
    args.model_list = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = set(args.model_list) - {"als", "warp"}
    if unknown:
        p.error(f"unknown models: {', '.join(sorted(unknown))}")
    for name in ("factors", "threads", "k", "als_iterations", "warp_epochs", "warp_max_sampled"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.als_confidence == "one-plus" and not args.als_alpha > 0:
        p.error("--als-confidence one-plus needs --als-alpha > 0")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    meta, train, test, genres = read_split(args.data)
    users = np.flatnonzero(np.diff(test.indptr) > 0).astype(np.int32)
    output: dict = {
        "dataset": {
            "path": str(args.data),
            "n_users": train.shape[0],
            "n_items": train.shape[1],
            "n_genres": 0 if genres is None else genres.shape[1],
            "train_nnz": int(train.nnz),
            "test_nnz": int(test.nnz),
            "users_with_test": int(users.shape[0]),
        },
        "params": {
            "factors": args.factors,
            "threads": args.threads,
            "seed": args.seed,
            "k": args.k,
            "als": {"iterations": args.als_iterations, "regularization": args.als_regularization,
                    "alpha": args.als_alpha, "confidence": args.als_confidence},
            "warp": {"epochs": args.warp_epochs, "learning_rate": args.warp_learning_rate,
                     "max_sampled": args.warp_max_sampled, "item_alpha": args.warp_item_alpha,
                     "user_alpha": args.warp_user_alpha},
        },
        "versions": {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__},
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    # The popularity baseline is cheap and anchors the other numbers: always reported.
    output["popularity"] = {
        "metrics": evaluate("popularity", popularity_scores(train), train, test, users, args.k, args.dump_topk)
    }
    if "als" in args.model_list:
        import implicit

        output["versions"]["implicit"] = implicit.__version__
        result, scores = run_als(args, train)
        result["metrics"] = evaluate("als", scores, train, test, users, args.k, args.dump_topk)
        output["implicit_als"] = result
    if "warp" in args.model_list:
        import lightfm

        output["versions"]["lightfm"] = lightfm.__version__
        result, scores = run_warp(args, train, genres)
        result["metrics"] = evaluate("warp", scores, train, test, users, args.k, args.dump_topk)
        output["lightfm_warp"] = result
    try:
        import resource

        # Linux reports kilobytes: the peak resident set size of this process (data, models and evaluation).
        output["machine"]["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    except ImportError:  # not on POSIX
        pass
    json.dump(output, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
