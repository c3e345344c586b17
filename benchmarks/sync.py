"""CRM sync through the vendor's API against a file import of the same records (issue 18).

    python -m benchmarks.sync [--records 20000] [--repeats 3] [--changed 0.01] [--source salesforce hubspot]

A local vendor API (``tests/connectors/crm_servers``, in the vendors' documented shapes) holds
``--records`` generated customers and pages them as the real API does: a Salesforce org
(``SalesforceServer``, the REST query resource over HTTPS with a trustme certificate authority)
2,000 accounts a query batch; HubSpot (``HubSpotServer``, the CRM search endpoint over HTTP)
100 companies a request, as the connector asks (``PAGE_SIZE``), a new query after 10,000. The
server runs in its own process, so its JSON and TLS work does not share the benchmark's
interpreter. Per repeat, into a new empty lake:

- **full sync**: ``quantlib.connectors.base.sync(lake, source, objects=[Account | companies])``
  (the vendor's client library pages, each landed through the ordinary ingest with the shipped mapping);
- **incremental sync**: ``--changed`` of the records get a new name and modification stamp at
  the vendor, then the same call again, from the stored cursor.

The baseline, measured in the same run and process: the same records written as the vendor's
export file (Salesforce's ``Account.csv`` by API field names, HubSpot's companies export by
property labels) and loaded by ``ingest(DIR, lake, mapping=parameters/mappings/SOURCE.yaml)``,
which is what ``quant ingest DIR --source SOURCE`` runs (without the command's start-up); after
the change, the whole export again into that lake, which is how a company on file imports picks
the change up.

A sync's time is split into the API side (inside the connector's page iterator: the client, the
requests, waiting for the server, parsing, building the page) and the landing (writing each page
as a CSV, ingest, saving the cursor); the server's own CPU time is read from its process.
Correctness is checked in the run: the synced silver ``customers`` has the same ids as the file
import's, the same values, and after the incremental sync the new names.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Records per page the servers answer: a Salesforce query batch (the default and the maximum), a HubSpot
#: search request (its maximum; the connector asks for 100).
PAGE = {"salesforce": 2000, "hubspot": 200}
OBJECT = {"salesforce": "Account", "hubspot": "companies"}
ACCOUNT_FIELDS = ["Id", "Name", "IsPersonAccount", "BillingCity", "BillingPostalCode", "BillingLatitude",
                  "BillingLongitude", "AccountSource", "CreatedDate", "SystemModstamp", "Rating"]
CITIES = [("Springfield", "627", 39.80, -89.64), ("Decatur", "625", 39.84, -88.95),
          ("Champaign", "618", 40.12, -88.24), ("Peoria", "616", 40.69, -89.59)]
SF_SOURCES = ["Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"]
#: HubSpot's hs_analytics_source: the API's internal value and the export's label.
HS_SOURCES = {"ORGANIC_SEARCH": "Organic Search", "DIRECT_TRAFFIC": "Direct Traffic", "PAID_SEARCH": "Paid Search",
              "REFERRALS": "Referrals", "OFFLINE": "Offline Sources"}
SF_STAMP = "%Y-%m-%dT%H:%M:%S.000+0000"
HS_STAMP = "%Y-%m-%dT%H:%M:%S.000Z"


def generate(source: str, n: int) -> list[dict]:
    """``n`` customers as the vendor's API holds them (deterministic, all valid for the shipped mapping)."""
    import pandas as pd

    base = pd.Timestamp("2024-01-01")
    out = []
    for i in range(n):
        city, zip3, lat, lon = CITIES[i % len(CITIES)]
        created, modified = base - pd.Timedelta(days=i % 900), base + pd.Timedelta(seconds=i)
        lat, lon, zip5 = round(lat + (i % 97) / 1000, 5), round(lon - (i % 89) / 1000, 5), f"{zip3}{i % 100:02d}"
        if source == "salesforce":
            out.append({"Id": f"001A{i:011d}AAA", "Name": f"Account {i}", "IsPersonAccount": i % 3 != 0,
                        "BillingCity": city, "BillingPostalCode": zip5, "BillingLatitude": lat,
                        "BillingLongitude": lon, "AccountSource": SF_SOURCES[i % len(SF_SOURCES)],
                        "CreatedDate": created.strftime(SF_STAMP), "SystemModstamp": modified.strftime(SF_STAMP),
                        "Rating": ["Hot", "Warm", "Cold", None][i % 4]})
        else:
            ident = str(5_000_000 + i)
            out.append({"id": ident, "properties": {
                "hs_object_id": ident, "name": f"Company {i}", "domain": f"company{i}.example.com", "city": city,
                "zip": zip5, "latitude": str(lat), "longitude": str(lon), "createdate": created.strftime(HS_STAMP),
                "hs_analytics_source": list(HS_SOURCES)[i % len(HS_SOURCES)],
                "hs_is_target_account": "true" if i % 4 == 0 else "false",
                "hs_lastmodifieddate": modified.strftime(HS_STAMP)}})
    return out


def touch(source: str, records: list[dict], k: int, repeat: int) -> dict[str, str]:
    """Rename ``k`` records spread over ``records``, stamped after everything so far; {id: new name}."""
    import pandas as pd

    later = pd.Timestamp("2025-01-01") + pd.Timedelta(days=repeat)
    touched = {}
    for j, record in enumerate(records[:: max(1, len(records) // k)][:k]):
        stamp = later + pd.Timedelta(seconds=j)
        if source == "salesforce":
            record["Name"] = f"{record['Name'].split(' /')[0]} / renamed {repeat}"
            record["SystemModstamp"] = stamp.strftime(SF_STAMP)
            touched[record["Id"]] = record["Name"]
        else:
            props = record["properties"]
            props["name"] = f"{props['name'].split(' /')[0]} / renamed {repeat}"
            props["hs_lastmodifieddate"] = stamp.strftime(HS_STAMP)
            touched[record["id"]] = props["name"]
    return touched


def _serve(conn, source: str, n: int, page: int, folder: str) -> None:
    """The vendor's process: serve ``n`` records until told to stop; ``("touch", k, repeat)`` changes k of them."""
    from tests.connectors.crm_servers import HubSpotServer, SalesforceServer

    records = generate(source, n)
    if source == "salesforce":
        server = SalesforceServer(Path(folder), {"Account": records, "Opportunity": [], "Contact": []},
                                  {"Account": ACCOUNT_FIELDS, "Opportunity": ["Id", "SystemModstamp"],
                                   "Contact": ["Id", "SystemModstamp"]}, page_size=page)
    else:
        from quantlib.connectors.hubspot import LABELS

        server = HubSpotServer({"companies": records, "deals": [], "tickets": []}, {},
                               {obj: dict(labels) for obj, labels in LABELS.items()}, page_size=page)
    with server:
        conn.send((server.env(), str(server.ca_file) if source == "salesforce" else None))
        while True:
            command = conn.recv()
            if command[0] == "stop":
                return
            if command[0] == "cpu":
                conn.send(time.process_time())
            elif command[0] == "touch":
                conn.send(touch(source, records, *command[1:]))


def export_csv(source: str, records: list[dict], folder: Path) -> Path:
    """The records as the vendor's export writes them: Salesforce's Account.csv (API names, true/false),
    HubSpot's companies export (property labels, the source's label)."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    if source == "salesforce":
        frame = pd.DataFrame(records, columns=ACCOUNT_FIELDS)
        frame["IsPersonAccount"] = frame["IsPersonAccount"].map({True: "true", False: "false"})
        frame.to_csv(folder / "Account.csv", index=False)
    else:
        from quantlib.connectors.hubspot import LABELS

        labels = LABELS["companies"]
        frame = pd.DataFrame([{"Record ID": r["id"], **{labels[p]: v for p, v in r["properties"].items()
                                                        if p in labels}} for r in records])
        frame["Original Source Type"] = frame["Original Source Type"].map(HS_SOURCES)
        frame.to_csv(folder / "hubspot-crm-exports-all-companies-2026-12-07.csv", index=False)
    return folder


def timed_connector(source: str, session):
    """The source's connector, adding the time spent inside its page iterator to ``.api_seconds`` and each
    page's landing time (from handing the page over until the next is asked for) to ``.landings``."""
    from quantlib.connectors.hubspot import HubSpotConnector
    from quantlib.connectors.salesforce import SalesforceConnector

    base = SalesforceConnector if source == "salesforce" else HubSpotConnector

    class Timed(base):
        def read(self, obj, since, env):
            pages = super().read(obj, since, env)
            while True:
                started = time.perf_counter()
                try:
                    batch = next(pages)
                except StopIteration:
                    return
                finally:
                    self.api_seconds += time.perf_counter() - started
                handed = time.perf_counter()
                yield batch
                self.landings.append(time.perf_counter() - handed)

    connector = Timed(session) if source == "salesforce" else Timed()
    connector.api_seconds, connector.landings = 0.0, []
    return connector


def silver(lake_root: Path):
    import pandas as pd

    from quantlib.data.lake import Lake

    frame = pd.read_parquet(Lake(lake_root).silver_table("customers"))
    return frame.sort_values("customer_id").reset_index(drop=True)


def same_values(a, b) -> bool:
    """Whether two silver customers tables hold the same values (compared as text; lineage columns aside)."""
    columns = [c for c in a.columns if c in b.columns and not c.startswith("_")]
    return a[columns].astype("string").fillna("").equals(b[columns].astype("string").fillna(""))


def bench(source: str, n: int, repeats: int, changed: float, work: Path, keep: bool) -> None:
    """Run and print one source's measurements (see the module)."""
    import requests

    from quantlib.connectors.base import mapping_path, read_cursors, sync
    from quantlib.data.ingest import ingest

    k, obj, mapping = max(1, round(n * changed)), OBJECT[source], mapping_path(source)
    records = generate(source, n)
    context = multiprocessing.get_context("spawn")
    ours, theirs = context.Pipe()
    vendor = context.Process(target=_serve, args=(theirs, source, n, PAGE[source], str(work)), daemon=True)
    vendor.start()
    env, ca_file = ours.recv()
    session = None
    if ca_file:
        session = requests.Session()
        session.trust_env = False  # else $REQUESTS_CA_BUNDLE replaces verify
        session.verify = ca_file

    def vendor_cpu() -> float:
        ours.send(("cpu",))
        return ours.recv()

    def timed_sync(lake):
        connector, cpu = timed_connector(source, session), vendor_cpu()
        started = time.perf_counter()
        report = sync(lake, source, env=env, objects=[obj], connector=connector)
        seconds = time.perf_counter() - started
        return report, (seconds, connector.api_seconds, vendor_cpu() - cpu, connector.landings)

    # Warm up (imports, the mapping, the client) before anything is timed: a small export, an empty object.
    ingest(export_csv(source, records[:10], work / "warm" / "export"), work / "warm" / "lake", mapping=mapping)
    other = "Opportunity" if source == "salesforce" else "deals"
    list(timed_connector(source, session).read(other, None, env))
    shutil.rmtree(work / "warm")

    rows = {name: [] for name in ("full sync", "incremental sync", "file import", "file re-import")}
    checks = []
    try:
        for repeat in range(1, repeats + 1):
            folder = work / f"{source}-{repeat}"
            shutil.rmtree(folder, ignore_errors=True)
            # The baseline: the export file into an empty lake.
            export = export_csv(source, records, folder / "export")
            started = time.perf_counter()
            imported = ingest(export, folder / "file-lake", mapping=mapping)
            rows["file import"].append((time.perf_counter() - started,))
            assert imported.ok and imported.rows_rejected == 0, imported.problems[:3]
            # The full sync into an empty lake.
            report, timing = timed_sync(folder / "sync-lake")
            rows["full sync"].append(timing)
            synced, filed = silver(folder / "sync-lake"), silver(folder / "file-lake")
            full_ok = (len(synced) == n and synced["customer_id"].tolist() == filed["customer_id"].tolist()
                       and same_values(synced, filed))
            # k records change at the vendor; the incremental sync from the cursor, the whole export again.
            ours.send(("touch", k, repeat))
            touched = ours.recv()
            cursor = read_cursors(folder / "sync-lake")[source][obj]
            again, timing = timed_sync(folder / "sync-lake")
            rows["incremental sync"].append(timing)
            touch(source, records, k, repeat)
            export = export_csv(source, records, folder / "export-again")
            started = time.perf_counter()
            ingest(export, folder / "file-lake", mapping=mapping)
            rows["file re-import"].append((time.perf_counter() - started,))
            synced, filed = silver(folder / "sync-lake"), silver(folder / "file-lake")
            names = synced.set_index("customer_id")["name"]
            again_ok = (len(synced) == n and synced["customer_id"].tolist() == filed["customer_id"].tolist()
                        and all(names[i] == name for i, name in touched.items()) and same_values(synced, filed))
            checks.append((full_ok, report.pages[obj], report.rows_rejected, again_ok, again.rows[obj]))
            print(f"{source} repeat {repeat}: full sync {rows['full sync'][-1][0]:.2f} s ({report.pages[obj]} pages, "
                  f"{report.rows_rejected} rejected), incremental {rows['incremental sync'][-1][0]:.2f} s "
                  f"({again.rows[obj]} records from {cursor}), file import {rows['file import'][-1][0]:.2f} s, "
                  f"re-import {rows['file re-import'][-1][0]:.2f} s; same ids and values as the file import: "
                  f"{full_ok} / {again_ok}", flush=True)
            if not keep:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        ours.send(("stop",))
        vendor.join(10)

    def median(name: str) -> float:
        return statistics.median(r[0] for r in rows[name])

    label = {"salesforce": ("Salesforce", "Account", f"{PAGE[source]:,} a query batch"),
             "hubspot": ("HubSpot", "companies", "100 a search request (the connector's limit)")}[source]
    print()
    print(f"### {label[0]} {label[1]}: {n:,} records, {label[2]}, {k:,} changed; median of {repeats}")
    print()
    print("| path | median (s) | records/s | x baseline | API side | of it, the server's CPU | landing |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base_full, base_again = median("file import"), median("file re-import")
    for name, count, baseline in (("file import", n, base_full), ("full sync", n, base_full),
                                  ("file re-import", n, base_again), ("incremental sync", k, base_again)):
        seconds = median(name)
        if len(rows[name][0]) == 1:
            split = "| | | |"
        else:
            api = statistics.median(r[1] / r[0] for r in rows[name])
            server = statistics.median(r[2] / r[0] for r in rows[name])
            split = f"| {api:.0%} | {server:.0%} | {1 - api:.0%} |"
        text = {"file import": f"baseline: file import (`quant ingest --source {source}`), empty lake",
                "file re-import": "baseline: the whole export again, into that lake",
                "full sync": "full sync, empty lake",
                "incremental sync": f"incremental sync from the cursor ({k:,} changed)"}[name]
        print(f"| {text} | {seconds:.2f} | {count / seconds:,.0f} | {seconds / baseline:.2f} {split}")
    pages = [r[3] for r in rows["full sync"]]
    first = statistics.median(statistics.mean(p[:5]) for p in pages)
    last = statistics.median(statistics.mean(p[-5:]) for p in pages)
    print()
    print(f"Landing one page of the full sync ({len(pages[0])} pages; median over repeats): "
          f"{first * 1000:.0f} ms for the first five pages, {last * 1000:.0f} ms for the last five "
          f"({statistics.median(sum(p) for p in pages):.2f} s in all).")
    print(f"Checks: every repeat's synced silver customers has {n:,} rows with the file import's ids and values "
          f"(after the full sync: {all(c[0] for c in checks)}; after the incremental, with the {k:,} new names: "
          f"{all(c[3] for c in checks)}); pages per full sync {sorted({c[1] for c in checks})}, rejected "
          f"{sum(c[2] for c in checks)}; records read by the incremental sync {sorted({c[4] for c in checks})} "
          f"(the changed ones; the cursor is inclusive, so its own record may be read again).")
    print(flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="customers at the vendor")
    parser.add_argument("--repeats", type=int, default=3, help="full + incremental syncs, each into a new lake")
    parser.add_argument("--changed", type=float, default=0.01, help="share of records changed before the incremental")
    parser.add_argument("--source", nargs="+", choices=sorted(PAGE), default=["salesforce", "hubspot"])
    parser.add_argument("--work", type=Path, default=None, help="working directory, kept (default: a temp dir)")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="quant-bench-sync-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)", flush=True)
    try:
        for source in args.source:
            bench(source, args.records, args.repeats, args.changed, work, keep=args.work is not None)
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
