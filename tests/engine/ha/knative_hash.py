"""An independent transliteration of knative.dev/pkg/hash (hash.go: buildHashes, ChooseSubset;
bucketer.go: BucketSet.Owner) and leaderelection.standardBucketName, used to check chainsd's
engine/ha/buckets.cpp. Written from upstream's Go, line by line; nothing here is shared with the
C++ code."""

START_SALT = b"start-angle-salt"
STEP_SALT = b"step-angle-salt"
UNIVERSE = 1 << 11
MASK = (1 << 64) - 1


def fnv64a(data):
    h = 14695981039346656037
    for c in data:
        h ^= c
        h = (h * 1099511628211) & MASK
    return h


def build_hashes(names, target):
    frm = sorted(names)                       # sets.List: sorted
    buf = bytearray(target) + START_SALT
    start = fnv64a(buf) % UNIVERSE
    buf = bytearray(target) + STEP_SALT
    step = fnv64a(buf) % UNIVERSE
    name_lookup = {}
    hash_pool = []
    for f in frm:
        buf = bytearray(f.encode()) + target
        h = fnv64a(buf)
        hs = h % UNIVERSE
        while hs in name_lookup:
            buf += format(h, "x").encode()    # strconv.FormatUint(h, 16)
            h = fnv64a(buf)
            hs = h % UNIVERSE
        hash_pool.append(hs)
        name_lookup[hs] = f
    hash_pool.sort()
    return name_lookup, hash_pool, start, step


def choose_subset(names, n, target):
    if n >= len(names):
        return set(names)
    name_lookup, pool, start, step = build_hashes(names, target)
    selection = set()
    angle = start
    hpl = len(pool)
    while len(selection) < n:
        root = next((i for i in range(hpl) if pool[i] >= angle), hpl)   # sort.Search
        if root == hpl:
            root = 0
        while root in selection:
            root += 1
            if root == hpl:
                root = 0
        selection.add(root)
        angle = (angle + step) % UNIVERSE
    return {name_lookup[pool[i]] for i in selection}


def owner(names, namespace, name):
    # types.NamespacedName{Namespace, Name}.String() = namespace + "/" + name
    (only,) = choose_subset(names, 1, (namespace + "/" + name).encode())
    return only


def lease_names(queue, buckets, component="watcher", prefixes=None):
    prefix = "%s.%s" % (component, queue)
    if prefixes and prefixes.get(prefix):
        prefix = prefixes[prefix]
    return [("%s.%02d-of-%02d" % (prefix, i, buckets)).lower() for i in range(buckets)]


TASKRUN_QUEUE = "github.com.tektoncd.chains.pkg.reconciler.taskrun.Reconciler"
PIPELINERUN_QUEUE = "github.com.tektoncd.chains.pkg.reconciler.pipelinerun.Reconciler"
