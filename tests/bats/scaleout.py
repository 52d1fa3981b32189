"""The clients and the writer of scaleout.bats: one client talks to several
web nodes through a load balancer, while a writer changes the files on the
one data tree behind them in the ways editors save.

    scaleout.py poll SECONDS   has_new_checksum and file_content
    scaleout.py tail SECONDS   file_tail

Environment: LB_PORT (the balancer), PREFIX (the mount point), DAMNIT (the
DAMNIT folder), NODE_SOCKETS (the nodes' watcherd sockets, "name=path,...").
Prints "key=value" counts on stdout; exits non-zero (with the reason on
stderr) when a client saw something it must not.
"""

import base64, http.client, json, os, random, sys, threading, time, zlib

from watcherd_socket import ask

LB_PORT, PREFIX = int(os.environ["LB_PORT"]), os.environ["PREFIX"]
DAMNIT = os.environ["DAMNIT"]
NODES = dict(kv.split("=", 1) for kv in os.environ["NODE_SOCKETS"].split(","))
EMPTY = "%08x" % zlib.crc32(b"")
failures = []


def get(path):
    c = http.client.HTTPConnection("127.0.0.1", LB_PORT, timeout=10)
    c.request("GET", PREFIX + path)
    r = c.getresponse()
    body = r.read()
    node = r.getheader("X-Filehandler-Node")
    c.close()
    if r.status != 200:
        sys.exit("%s answered %d by %s: %r" % (path, r.status, node, body[:300]))
    if node not in NODES:
        sys.exit("%s: no known X-Filehandler-Node, got %r" % (path, node))
    return r, body, node


def disk_crc(path):
    try:
        with open(path, "rb") as f:
            return "%08x" % zlib.crc32(f.read())
    except FileNotFoundError:
        return None


def watcherd_requests():
    """The requests counter of each node's watcherd, read on its socket."""
    counts = {}
    for node, path in NODES.items():
        counts[node] = ask(path, {"cmd": "status"}, 5)["requests"]
    return counts


def save(path, data, style):
    """Writes data to path the way an editor does."""
    if style == "rename":           # write a temporary file, rename it over
        tmp = os.path.join(os.path.dirname(path), ".%s.swp" % os.path.basename(path))
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    elif style == "truncate":       # open with O_TRUNC and write
        with open(path, "wb") as f:
            f.write(data)
    else:                           # overwrite in place, then cut the rest
        with open(path, "r+b") as f:
            f.write(data)
            f.truncate()


def context_writer(stop_at, written):
    """Saves context.py with new content each time, in turn in each way, and
    appends to a log, with pauses, until stop_at."""
    path = os.path.join(DAMNIT, "context.py")
    styles = ["truncate", "rename", "overwrite"]
    i = 0
    while time.monotonic() < stop_at:
        body = "".join("def var_%d_%d(run):\n    return %d\n\n" % (i, k, k)
                       for k in range(random.randint(5, 60)))
        data = ("# save %d, %s\n%s" % (i, styles[i % 3], body)).encode()
        save(path, data, styles[i % 3])
        written.append("%08x" % zlib.crc32(data))
        with open(os.path.join(DAMNIT, "damnit.log"), "a") as f:
            f.write("save %d of context.py\n" % i)
        i += 1
        time.sleep(random.uniform(0.1, 0.3))


def poll(seconds):
    """Polls has_new_checksum with the checksum last fetched by file_content,
    fetching the content again on every true. A true is spurious when the
    file on disk hashes to the client's checksum both before the request and
    after its answer: every save writes new content, so the file did not
    change in between (the empty file an O_TRUNC save passes through is the
    one content that comes back, so a checksum of it is not judged)."""
    q = "proposal=1111&file_name=context.py"
    path = os.path.join(DAMNIT, "context.py")
    written, seen = [], set()
    per_node = {n: 0 for n in NODES}
    polls = trues = spurious = stale = unjudged = 0
    before_requests = watcherd_requests()

    def fetch():
        r, body, node = get("/file_content?" + q)
        per_node[node] += 1
        answer = json.loads(body)
        raw = answer["content"].encode() if answer["encoding"] == "utf-8" \
            else base64.b64decode(answer["content"])
        crc = "%08x" % zlib.crc32(raw)
        if crc != answer["checksum"] or r.getheader("X-Checksum") != crc:
            failures.append("file_content from %s: checksum %s, content's CRC-32 %s"
                            % (node, answer["checksum"], crc))
        seen.add(crc)
        return crc

    checksum = fetch()
    stop_at = time.monotonic() + seconds
    writer = threading.Thread(target=context_writer, args=(stop_at, written))
    writer.start()
    while writer.is_alive() or polls < 20:
        disk_before = disk_crc(path)
        r, body, node = get("/has_new_checksum?%s&checksum=%s" % (q, checksum))
        disk_after = disk_crc(path)
        polls += 1
        per_node[node] += 1
        current = r.getheader("X-Checksum")
        seen.add(current)
        answer = json.loads(body)
        stable = disk_before == disk_after and checksum != EMPTY
        if answer is True:
            trues += 1
            if stable and disk_before == checksum:
                spurious += 1
                failures.append("spurious true from %s: file and client both at %s, "
                                "node says %s" % (node, checksum, current))
            checksum = fetch()
        elif answer is False:
            if checksum == EMPTY:
                unjudged += 1
            elif stable and disk_before != checksum:
                stale += 1
                failures.append("stale false from %s: client at %s, file at %s"
                                % (node, checksum, disk_before))
        else:
            sys.exit("has_new_checksum answered %r" % body)
        time.sleep(0.002)
    writer.join()
    after_requests = watcherd_requests()
    unseen = [c for c in written if c not in seen]
    for c in unseen:
        failures.append("the client never saw the written content %s" % c)
    for n in NODES:
        served = after_requests[n] - before_requests[n]
        if served < per_node[n]:
            failures.append("%s's watcherd counted %d requests, the client "
                            "%d answers from it" % (n, served, per_node[n]))
        if per_node[n] < polls // 4:
            failures.append("%s answered only %d of %d polls" % (n, per_node[n], polls))
    print("polls=%d %s changes=%d changes_seen=%d trues=%d spurious_trues=%d "
          "stale_falses=%d empty_unjudged=%d" % (
              polls, " ".join("answers_%s=%d" % kv for kv in sorted(per_node.items())),
              len(written), len(written) - len(unseen), trues, spurious, stale,
              unjudged))


def log_writer(path, stop_at, rotations):
    """Appends numbered lines to path, several per pause, and now and then
    rotates it: a new file under the name (rename-over) that goes on with
    the numbering."""
    line = 0
    while time.monotonic() < stop_at:
        if random.random() < 0.08:
            tmp = path + ".new"
            with open(tmp, "w") as f:
                f.write("line %d rotated in\n" % line)
            os.replace(tmp, path)
            rotations.append(line)
            line += 1
        with open(path, "a") as f:
            for _ in range(random.randint(1, 5)):
                f.write("line %d caf\u00e9 %s\n" % (line, "x" * random.randint(0, 80)))
                line += 1
        time.sleep(random.uniform(0.03, 0.15))


def consecutive(data):
    """Whether the complete numbered lines of data follow each other."""
    numbers = [int(l.split()[1]) for l in data.decode(errors="replace").split("\n")[:-1]
               if len(l.split()) > 1 and l.split()[1].isdigit()]
    return numbers == list(range(numbers[0], numbers[0] + len(numbers))) \
        if numbers else True


def tail(seconds):
    """Follows a log through the balancer with file_tail, keeping the offset
    and the generation of each answer for the next request. A reset is
    spurious when it names the generation the client sent; the bytes the
    client put together must be the file's, each line once, in order."""
    name = "scaleout.log"
    path = os.path.join(DAMNIT, name)
    with open(path, "w") as f:
        f.write("line start\n")
    rotations = []
    per_node = {n: 0 for n in NODES}
    polls = resets = spurious = 0
    offset, generation, have = 0, "", b""

    def one():
        nonlocal offset, generation, have, polls, resets, spurious
        r, body, node = get("/file_tail?proposal=1111&file_name=%s&offset=%d%s"
                            % (name, offset, "&generation=" + generation if generation else ""))
        polls += 1
        per_node[node] += 1
        a = json.loads(body)
        data = a["data"].encode() if a["encoding"] == "utf-8" else base64.b64decode(a["data"])
        if a["reset"]:
            resets += 1
            if a["generation"] == generation:
                spurious += 1
                failures.append("spurious reset from %s at offset %d, generation %s"
                                % (node, offset, generation))
            if a["offset"] != 0:
                failures.append("a reset from %s starts at %d, not 0" % (node, a["offset"]))
            if not consecutive(have):
                failures.append("the lines of generation %s do not follow each other"
                                % generation)
            have = b""
        elif a["offset"] != offset:
            failures.append("%s answered from offset %d, asked %d" % (node, a["offset"], offset))
        if a["next_offset"] != a["offset"] + len(data):
            failures.append("%s: next_offset %d after %d bytes from %d"
                            % (node, a["next_offset"], len(data), a["offset"]))
        have += data
        offset, generation = a["next_offset"], a["generation"]
        return a

    stop_at = time.monotonic() + seconds
    writer = threading.Thread(target=log_writer, args=(path, stop_at, rotations))
    writer.start()
    while writer.is_alive():
        one()
    writer.join()
    # Caught up on both nodes: two answers in a row with nothing new.
    quiet = 0
    for _ in range(100):
        a = one()
        quiet = quiet + 1 if not a["data"] and not a["reset"] else 0
        if quiet >= 2:
            break
    with open(path, "rb") as f:
        final = f.read()
    if have != final:
        failures.append("the client put together %d bytes, the file has %d; they "
                        "differ from byte %d" % (len(have), len(final), next(
                            (i for i in range(min(len(have), len(final)))
                             if have[i] != final[i]), min(len(have), len(final)))))
    # Within one generation the lines go on one by one: none lost, none twice.
    if not consecutive(have):
        failures.append("the lines of the last generation do not follow each other")
    if resets > len(rotations):
        failures.append("%d resets for %d rotations" % (resets, len(rotations)))
    for n in NODES:
        if per_node[n] < polls // 4:
            failures.append("%s answered only %d of %d tails" % (n, per_node[n], polls))
    print("tails=%d %s rotations=%d resets=%d spurious_resets=%d bytes=%d" % (
        polls, " ".join("answers_%s=%d" % kv for kv in sorted(per_node.items())),
        len(rotations), resets, spurious, len(have)))


if __name__ == "__main__":
    {"poll": poll, "tail": tail}[sys.argv[1]](float(sys.argv[2]))
    for f in failures[:20]:
        print(f, file=sys.stderr)
    sys.exit(1 if failures else 0)
