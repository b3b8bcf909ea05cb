"""Benchmark: match 20,000 pasted rows against 20,000 customers (and find duplicates among them).

    python benchmarks/bench_customer_match.py [--rows 20000] [--customers 20000]

(with the toolkit installed, or PYTHONPATH=. from a checkout)

Synthetic but realistic data: Belgian names with legal forms, postal codes, valid VAT numbers for
most companies. The paste mixes VAT numbers written every which way, names with another legal
form or case, typos, and unknown customers. The second run forces every row through the fuzzy
stage (no VAT numbers, no exact names): the worst case.
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter

from toolkit.customers.duplicates import find_duplicates
from toolkit.customers.match import match_rows
from toolkit.model import Customer

WORDS = ("bakkerij garage bouw verhuur transport elektro schrijnwerkerij brasserie apotheek dakwerken "
         "tuinaanleg immo consult design drukkerij kapsalon slagerij zuivel metaal hout glas").split()
SURNAMES = ("janssens peeters maes jacobs mertens willems claes goossens wouters de-smet dubois lambert "
            "dupont martin leroy simon laurent vermeulen van-damme hermans").split()
FORMS = ("BV", "NV", "BVBA", "SRL", "SA", "Comm.V.", "VZW", "")


def be_vat(n: int) -> str:
    first = f"0{n:07d}"
    return f"{first}{97 - int(first) % 97:02d}"


def make_customers(count: int, rng: random.Random) -> list[Customer]:
    customers = []
    for i in range(count):
        name = f"{rng.choice(WORDS).title()} {rng.choice(SURNAMES).replace('-', ' ').title()} {rng.randrange(1, 999)}"
        vat = "BE" + be_vat(1000000 + i) if rng.random() < 0.6 else ""
        customers.append(Customer(f"C{i + 1:05d}", f"{name} {rng.choice(FORMS)}".strip(), vat_number=vat,
                                  postal_code=str(rng.randrange(1000, 9999)),
                                  accounting_number=str(400000 + i) if rng.random() < 0.2 else ""))
    return customers


def typo(text: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(text) - 1)
    return text[:i] + text[i + 1:]


def make_paste(customers: list[Customer], count: int, rng: random.Random, worst: bool) -> list[dict]:
    rows = []
    for i in range(count):
        c = customers[i % len(customers)]
        base = c.name.rsplit(" ", 1)[0] if c.name.split()[-1] in FORMS else c.name
        kind = "fuzzy" if worst else rng.choices(("vat", "name", "fuzzy", "new"), (0.4, 0.3, 0.2, 0.1))[0]
        row = {"number": str(100000 + i), "postal_code": c.postal_code}
        if kind == "vat" and c.vat_number:
            digits = c.vat_number[2:]
            row["vat"] = rng.choice((digits, f"{digits[:4]}.{digits[4:7]}.{digits[7:]}", f"BE {digits}"))
            row["name"] = base.upper()
        elif kind in ("vat", "name"):
            row["name"] = f"{rng.choice(FORMS)} {base.lower()}"
        elif kind == "fuzzy":
            row["name"] = typo(base, rng)
        else:
            row["name"] = f"Nieuwe {rng.choice(SURNAMES).title()} {i}"
            row["postal_code"] = str(rng.randrange(1000, 9999))
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20000)
    parser.add_argument("--customers", type=int, default=20000)
    args = parser.parse_args()
    rng = random.Random(20260101)
    customers = make_customers(args.customers, rng)
    for worst in (False, True):
        paste = make_paste(customers, args.rows, rng, worst)
        start = time.perf_counter()
        matches = match_rows(paste, customers, "BE")
        seconds = time.perf_counter() - start
        label = "all rows fuzzy (worst case)" if worst else "mixed paste"
        methods = Counter(m.method or "none" for m in matches)
        actions = Counter(m.action for m in matches)
        print(f"match {args.rows} rows x {args.customers} customers, {label}: {seconds:.2f} s")
        print(f"    methods: {dict(methods)}\n    actions: {dict(actions)}")
    start = time.perf_counter()
    groups = find_duplicates(customers)
    print(f"duplicates among {args.customers} customers: {time.perf_counter() - start:.2f} s ({len(groups)} groups)")


if __name__ == "__main__":
    main()
