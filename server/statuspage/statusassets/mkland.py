#!/usr/bin/env python3
"""Convert Natural Earth 110m land (world-atlas land-110m.json, TopoJSON) into
one SVG path for the status page's equirectangular map: x = lon, y = -lat,
in degrees, rounded to 0.1, simplified (Douglas-Peucker, 0.2 degrees), with
islands smaller than 1 square degree dropped. TopoJSON rings are spherical:
rings that cross the antimeridian (Chukotka, Fiji) are unwrapped and clipped
to -180..180 once per side, and Antarctica, which winds around the pole, is
closed along the map's bottom edge. Stdlib only.

    python3 mkland.py land-110m.json > land.txt
"""
import json
import sys

TOLERANCE = 0.2  # degrees; well under a pixel at the page's map scale
MIN_AREA = 1.0   # square degrees; keeps Iceland, drops specks


def decode_arcs(topo):
    """Undo TopoJSON's quantisation and delta encoding."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        pts = []
        for dx, dy in arc:
            x += dx
            y += dy
            pts.append((x * sx + tx, y * sy + ty))
        arcs.append(pts)
    return arcs


def ring(arcs, indexes):
    """Stitch a ring from arc indexes; ~i means arc i reversed."""
    pts = []
    for i in indexes:
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        pts.extend(a if not pts else a[1:])
    return pts


def simplify(pts, tol):
    """Douglas-Peucker, iterative; keeps the first and last points."""
    if len(pts) < 3:
        return pts
    keep = [False] * len(pts)
    keep[0] = keep[-1] = True
    stack = [(0, len(pts) - 1)]
    while stack:
        a, b = stack.pop()
        (ax, ay), (bx, by) = pts[a], pts[b]
        dx, dy = bx - ax, by - ay
        norm = (dx * dx + dy * dy) ** 0.5
        worst, idx = 0.0, -1
        for i in range(a + 1, b):
            px, py = pts[i]
            d = abs(dy * (px - ax) - dx * (py - ay)) / norm if norm else ((px - ax) ** 2 + (py - ay) ** 2) ** 0.5
            if d > worst:
                worst, idx = d, i
        if worst > tol:
            keep[idx] = True
            stack += [(a, idx), (idx, b)]
    return [p for p, k in zip(pts, keep) if k]


def unwrap(pts):
    """Make longitudes continuous across the antimeridian; close a ring that
    winds around a pole along that pole's edge of the map."""
    out = [pts[0]]
    for x, y in pts[1:]:
        px = out[-1][0]
        while x - px > 180:
            x -= 360
        while x - px < -180:
            x += 360
        out.append((x, y))
    x0, x1 = out[0][0], out[-1][0]
    if abs(x1 - x0) > 180:  # winds around a pole
        pole = -90 if sum(y for _, y in out) < 0 else 90
        out += [(x1, pole), (x0, pole)]
    return out


def clip(pts, keep):
    """Sutherland-Hodgman against one half-plane, given as (inside
    predicate, intersection of a segment with the boundary)."""
    inside, cut = keep
    out = []
    for i, p in enumerate(pts):
        q = pts[i - 1]
        if inside(p):
            if not inside(q):
                out.append(cut(q, p))
            out.append(p)
        elif inside(q):
            out.append(cut(q, p))
    return out


def at_lon(lon):
    def cut(a, b):
        t = (lon - a[0]) / (b[0] - a[0])
        return (lon, a[1] + t * (b[1] - a[1]))
    return cut


LEFT = (lambda p: p[0] >= -180, at_lon(-180))
RIGHT = (lambda p: p[0] <= 180, at_lon(180))


def pieces(pts):
    """The parts of an unwrapped ring inside -180..180, shifting it by a
    turn either way for the parts that spilled over."""
    out = []
    for shift in (0, -360, 360):
        r = clip(clip([(x + shift, y) for x, y in pts], LEFT), RIGHT)
        if len(r) >= 3 and area(r) > 0:
            out.append(r)
    return out


def area(pts):
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]))) / 2


def path(rings):
    """Absolute moveto, then relative lineto in tenths of a degree."""
    out = []
    for r in rings:
        q = [(round(x * 10), round(-y * 10)) for x, y in r]
        dedup = [q[0]] + [p for p, prev in zip(q[1:], q) if p != prev]
        if dedup[-1] == dedup[0]:
            dedup.pop()  # z closes the ring
        if len(dedup) < 3:
            continue
        x0, y0 = dedup[0]
        cmd = ["M%s %s" % (fmt(x0), fmt(y0))]
        for (px, py), (x, y) in zip(dedup, dedup[1:]):
            cmd.append("%s%s" % (fmt(x - px), sign(fmt(y - py))))
        out.append(cmd[0] + "l" + " ".join(cmd[1:]).replace(" -", "-") + "z")
    return "".join(out)


def fmt(tenths):
    s = "%.1f" % (tenths / 10)
    s = s.rstrip("0").rstrip(".") if "." in s else s
    s = s.replace("0.", ".", 1) if s.startswith("0.") else s.replace("-0.", "-.", 1)
    return s or "0"


def sign(s):
    return s if s.startswith("-") else " " + s


def main():
    topo = json.load(open(sys.argv[1]))
    arcs = decode_arcs(topo)
    rings = []
    for geom in topo["objects"]["land"]["geometries"]:
        polys = geom["arcs"] if geom["type"] == "MultiPolygon" else [geom["arcs"]]
        for poly in polys:
            for idx in poly:
                r = unwrap(ring(arcs, idx))
                if area(r) < MIN_AREA:
                    continue
                for p in pieces(r):
                    rings.append(simplify(p + p[:1], TOLERANCE)[:-1])
    sys.stdout.write(path(rings) + "\n")


if __name__ == "__main__":
    main()
