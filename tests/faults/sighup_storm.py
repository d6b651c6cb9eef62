#!/usr/bin/env python3
"""SIGHUP storm: the config is swapped between two whole versions and reloaded again and
again while eapol_test authenticates without pause.

  python3 tests/faults/sighup_storm.py [--reloads 100] [--threads 3] [--bin build/app/portcullis] [--keep]

Version A puts the NAS in group "campus" and loads a.toml, whose rule (staff devices on a
campus NAS) answers VLAN 20 and Session-Timeout 3600; version B puts the NAS in "branch" and
loads b.toml (staff on a branch NAS: VLAN 30, Session-Timeout 7200). Each version is written
to a temporary file and renamed over the config, as an operator's tooling would, and
SIGHUP follows. A decision by a half-loaded config shows: the NAS table of one version with
the rules of the other matches no rule (no VLAN, the server's default Session-Timeout), and
rules of one file with attributes of the other would pair 20 with 7200. 2,000 rules that never match come first in each file:
loading takes a while, which widens the window a half-swap would show in. Held when every
authentication succeeds and carries exactly (20, 3600) or (30, 7200), both were seen, and the service logged each
reload it took. The suite runs it as ctest faults_sighup_storm (the issue's 100 reloads)."""

import argparse
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time

from workload import eapol, eapol_conf, harness, issue_client

RULES = """[[rule]]
name = "staff-{tag}"
device_groups = ["staff"]
nas_group = ["{group}"]
vlan = {vlan}
session_timeout = {timeout}
"""
# Rules before the real one that never match: they make a file take a while to load, the
# window in which a reload that swaps the NAS table before the rules decides half-loaded.
FILLER = "".join(f'[[rule]]\nname = "filler-{i}"\ndevice_groups = ["nobody-{i}"]\nvlan = 99\n\n' for i in range(2000))
VERSIONS = {"a": ("campus", 20, 3600), "b": ("branch", 30, 7200)}
A, B = ("20", "3600"), ("30", "7200")
WHOLE = {A, B}
SSID_ARGS = ["-N30:s:02-00-00-00-00-99:corp-wifi", "-N61:d:19"]


def log(msg):
    print(msg, flush=True)


def attribute(out, number, name):
    """The Access-Accept's attribute as eapol_test dumps it (the last packet), or None."""
    found = re.findall(rf"Attribute {number} \({name}\) length=\d+\n\s+Value: (\S+)", out)
    return found[-1] if found else None


def decision(out):
    """(VLAN, Session-Timeout) of the Access-Accept."""
    vlan = attribute(out, 81, "Tunnel-Private-Group-Id")  # hex: tag 1, then the VLAN
    return (bytes.fromhex(vlan)[1:].decode() if vlan else None, attribute(out, 27, "Session-Timeout"))


def config_versions(inst):
    """The config text of each version, from the one `init` wrote."""
    with open(inst.config) as f:
        base = f.read()
    texts = {}
    for tag, (group, vlan, timeout) in VERSIONS.items():
        with open(os.path.join(inst.dir, f"{tag}.toml"), "w") as f:
            f.write(FILLER + RULES.format(tag=tag, group=group, vlan=vlan, timeout=timeout))
        text = re.sub(r'(?m)^file = "[^"]*"', f'file = "{tag}.toml"', base, count=1)
        texts[tag] = text.replace("groups = []", f'groups = ["{group}"]', 1)
    return texts


def install(inst, text):
    tmp = inst.config + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, inst.config)


def run(reloads, threads, workdir):
    inst = harness.Instance(workdir)
    versions = config_versions(inst)
    install(inst, versions["a"])
    inst.start()
    inst.cli("devices", "add", "staff-laptop", "--group", "staff")
    key, cert = issue_client(inst, workdir, "staff-laptop")
    results, stop = [], threading.Event()
    lock = threading.Lock()

    def traffic(i):
        conf = eapol_conf(inst, workdir, key, cert, name=f"eap-{i}")
        while not stop.is_set():
            started = time.monotonic()
            out, ok = eapol(inst, conf, extra=SSID_ARGS, timeout=10)
            with lock:
                results.append((ok, decision(out) if ok else out[-1500:], time.monotonic() - started))

    workers = [threading.Thread(target=traffic, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    started = time.time()
    try:
        while len(results) < threads:  # the traffic is going before the first reload
            time.sleep(0.05)
        for n in range(reloads):
            install(inst, versions["b" if n % 2 == 0 else "a"])
            inst.proc.send_signal(signal.SIGHUP)
            time.sleep(0.05 + (n % 5) * 0.02)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in workers:
            t.join()
    storm = time.time() - started
    final = eapol(inst, eapol_conf(inst, workdir, key, cert, name="final"), extra=SSID_ARGS, timeout=10)
    code = inst.stop()
    log_text = inst.log()

    problems = []
    failed = [r for r in results if not r[0]]
    problems += [f"authentication failed during the storm: ...{r[1][-600:]}" for r in failed[:3]]
    mixed = [r[1] for r in results if r[0] and r[1] not in WHOLE]
    problems += [f"decided by neither whole version: VLAN, Session-Timeout = {m}" for m in mixed[:5]]
    seen = {r[1] for r in results if r[0]}
    if seen != WHOLE:
        problems.append(f"both versions should have decided something: {seen}")
    taken = len(re.findall(r"SIGHUP: reloaded ", log_text))
    refused = re.findall(r"SIGHUP: config not reloaded.*|policy \(SIGHUP\): rules not reloaded.*", log_text)
    problems += [f"refused reload: {r}" for r in refused[:3]]
    if taken < 1:
        problems.append("no reload was logged")
    last = "b" if (reloads - 1) % 2 == 0 else "a"  # reload n installs B when n is even
    final_want = A if last == "a" else B
    if not final[1] or decision(final[0]) != final_want:
        problems.append(f"after the storm the last version ({last}) should decide: {decision(final[0])}")
    if code != 0:
        problems.append(f"serve exited with {code}")
    latencies = sorted(r[2] for r in results if r[0])
    counts = {d: sum(1 for r in results if r[0] and r[1] == d) for d in WHOLE}
    coalesced = "; signals sent faster than handled coalesce" if taken < reloads else ""
    log(f"{reloads} SIGHUPs in {storm:.1f} s ({taken} reloads logged{coalesced}); "
        f"{len(results)} EAP-TLS authentications from {threads} eapol_test loops: {len(failed)} failed, "
        f"{len(mixed)} mixed; by version A {counts[A]}, B {counts[B]}; latency p50 "
        f"{latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms")
    return problems, inst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reloads", type=int, default=100)
    parser.add_argument("--threads", type=int, default=3)
    parser.add_argument("--bin", default=os.environ.get("PORTCULLIS_BIN", "build/app/portcullis"))
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    harness.BIN = os.path.abspath(args.bin)
    workdir = tempfile.mkdtemp(prefix="portcullis-sighup-")
    problems, inst = run(args.reloads, args.threads, workdir)
    if problems:
        print("\n".join(["FAILED:"] + problems), file=sys.stderr)
        print(f"server log: {inst.log_path}", file=sys.stderr)
        return 1
    log("held: every authentication answered, each decided by one whole version")
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
