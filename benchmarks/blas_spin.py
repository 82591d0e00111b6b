"""Can element-wise work use the second core right after a GEMM? `python -m benchmarks.blas_spin`.

Times the square roots of two 400,000-element arrays, on one thread and split over two, right
after a 256x256 product and after waiting 1 ms to 300 ms. OpenBLAS's idle worker thread spins
for a while after each product and keeps its core meanwhile; run with OPENBLAS_THREAD_TIMEOUT=4
(read when numpy loads) to see the two-thread figure when it sleeps at once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

DELAYS_S = (0.0, 0.001, 0.01, 0.05, 0.1, 0.2, 0.3)


def _roots(src: np.ndarray, dst: np.ndarray) -> None:
    for _ in range(10):
        np.sqrt(src, out=dst)


def measure(repeats: int = 5) -> list[tuple[float, float, float]]:
    """(delay, fastest one-thread ms, fastest two-thread ms) for every delay after a GEMM."""
    rng = np.random.default_rng(0)
    a = rng.random((256, 256))
    product = np.empty_like(a)
    halves = [(rng.random(400_000), np.empty(400_000)) for _ in range(2)]
    rows = []
    with ThreadPoolExecutor(1) as pool:
        for delay in DELAYS_S:
            serial, threaded = [], []
            for _ in range(repeats):
                for times, split in ((serial, False), (threaded, True)):
                    np.dot(a, a, out=product)
                    if delay:
                        time.sleep(delay)
                    start = time.perf_counter()
                    if split:
                        other = pool.submit(_roots, *halves[1])
                        _roots(*halves[0])
                        other.result()
                    else:
                        _roots(*halves[0])
                        _roots(*halves[1])
                    times.append(time.perf_counter() - start)
            rows.append((delay, min(serial) * 1e3, min(threaded) * 1e3))
    return rows


def main() -> None:
    print("delay after GEMM | one thread | two threads")
    for delay, serial, threaded in measure():
        print(f"{delay * 1e3:8.0f} ms     | {serial:7.2f} ms | {threaded:7.2f} ms")


if __name__ == "__main__":
    main()
