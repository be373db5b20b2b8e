"""Write a 5-class Fashion-MNIST subset as Kaggle-style CSV files, the layout a notebook of your own might start
from: train.csv (a Label column, then 784 pixel columns) and testX.csv (pixels only, no labels).

    python make_csv.py                    # 6,000 training rows per class: 30,000 rows; testX.csv: 5,000 rows
    python make_csv.py --per-class 500    # a small set to try the steps in a minute
"""

import argparse
import csv
from pathlib import Path

import numpy as np

from edgedigits.runtime import datasets

CLASSES = [0, 1, 2, 3, 4]  # T-shirt/top, Trouser, Pullover, Dress, Coat

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--per-class", type=int, default=6000, help="training rows per class (at most 6,000)")
parser.add_argument("--out", default=".", help="folder for train.csv and testX.csv")
args = parser.parse_args()

fashion = datasets.load("fashion-mnist")
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
pixels = [f"pixel{i}" for i in range(28 * 28)]

rows = np.concatenate([np.flatnonzero(fashion.y_train == c)[: args.per_class] for c in CLASSES])
rows.sort()  # the original order, classes mixed
with open(out / "train.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["Label", *pixels])
    writer.writerows([int(fashion.y_train[i]), *fashion.x_train[i].ravel().tolist()] for i in rows)

test = np.flatnonzero(np.isin(fashion.y_test, CLASSES))[: max(1, args.per_class * len(CLASSES) // 6)]
with open(out / "testX.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(pixels)
    writer.writerows(fashion.x_test[i].ravel().tolist() for i in test)
print(f"wrote {out / 'train.csv'} ({len(rows):,} rows) and {out / 'testX.csv'} ({len(test):,} rows)")
