"""A small BSON codec for mongo_stub.py (bsonspec.org 1.1; the types MongoDB drivers send for
commands and the documents chainsd and the tests write). Documents decode to dicts in wire order;
Int64, Binary and ObjectId keep the wire type so a reply re-encodes as it came."""
import struct


class Int64(int):
    pass


class Binary:
    def __init__(self, data, subtype=0):
        self.data, self.subtype = bytes(data), subtype

    def __eq__(self, other):
        return isinstance(other, Binary) and (self.data, self.subtype) == (other.data, other.subtype)

    def __hash__(self):
        return hash((self.data, self.subtype))

    def __repr__(self):
        return "Binary(%r, %d)" % (self.data, self.subtype)


class ObjectId:
    def __init__(self, raw):
        self.raw = bytes(raw)

    def __eq__(self, other):
        return isinstance(other, ObjectId) and self.raw == other.raw

    def __hash__(self):
        return hash(self.raw)


class DateTime(int):
    pass


class Timestamp(int):
    pass


def _cstring(data, at):
    end = data.index(b"\0", at)
    return data[at:end].decode("utf-8"), end + 1


def decode(data, at=0):
    """(document, end offset) of the document at `at`."""
    (length,) = struct.unpack_from("<i", data, at)
    end = at + length
    if length < 5 or end > len(data) or data[end - 1] != 0:
        raise ValueError("bad BSON document length")
    doc, p = {}, at + 4
    while p < end - 1:
        t = data[p]
        key, p = _cstring(data, p + 1)
        if t == 0x01:
            (v,) = struct.unpack_from("<d", data, p); p += 8
        elif t == 0x02:
            (n,) = struct.unpack_from("<i", data, p)
            v = data[p + 4:p + 4 + n - 1].decode("utf-8"); p += 4 + n
        elif t in (0x03, 0x04):
            v, p = decode(data, p)
            if t == 0x04:
                v = list(v.values())
        elif t == 0x05:
            (n,) = struct.unpack_from("<i", data, p)
            v = Binary(data[p + 5:p + 5 + n], data[p + 4]); p += 5 + n
        elif t == 0x07:
            v = ObjectId(data[p:p + 12]); p += 12
        elif t == 0x08:
            v = data[p] != 0; p += 1
        elif t == 0x09:
            (n,) = struct.unpack_from("<q", data, p); v = DateTime(n); p += 8
        elif t == 0x0A:
            v = None
        elif t == 0x10:
            (v,) = struct.unpack_from("<i", data, p); p += 4
        elif t == 0x11:
            (n,) = struct.unpack_from("<Q", data, p); v = Timestamp(n); p += 8
        elif t == 0x12:
            (n,) = struct.unpack_from("<q", data, p); v = Int64(n); p += 8
        else:
            raise ValueError("unsupported BSON type 0x%02x (key %s)" % (t, key))
        doc[key] = v
    return doc, end


def _element(key, v):
    k = key.encode("utf-8") + b"\0"
    if isinstance(v, bool):
        return b"\x08" + k + (b"\1" if v else b"\0")
    if isinstance(v, Int64):
        return b"\x12" + k + struct.pack("<q", v)
    if isinstance(v, DateTime):
        return b"\x09" + k + struct.pack("<q", v)
    if isinstance(v, Timestamp):
        return b"\x11" + k + struct.pack("<Q", v)
    if isinstance(v, int):
        if -2**31 <= v < 2**31:
            return b"\x10" + k + struct.pack("<i", v)
        return b"\x12" + k + struct.pack("<q", v)
    if isinstance(v, float):
        return b"\x01" + k + struct.pack("<d", v)
    if isinstance(v, str):
        s = v.encode("utf-8")
        return b"\x02" + k + struct.pack("<i", len(s) + 1) + s + b"\0"
    if isinstance(v, dict):
        return b"\x03" + k + encode(v)
    if isinstance(v, (list, tuple)):
        return b"\x04" + k + encode({str(i): e for i, e in enumerate(v)})
    if isinstance(v, Binary):
        return b"\x05" + k + struct.pack("<i", len(v.data)) + bytes([v.subtype]) + v.data
    if isinstance(v, (bytes, bytearray)):
        return b"\x05" + k + struct.pack("<i", len(v)) + b"\0" + bytes(v)
    if isinstance(v, ObjectId):
        return b"\x07" + k + v.raw
    if v is None:
        return b"\x0A" + k
    raise TypeError("cannot encode %r" % type(v))


def encode(doc):
    body = b"".join(_element(k, v) for k, v in doc.items())
    return struct.pack("<i", len(body) + 5) + body + b"\0"
