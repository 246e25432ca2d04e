#!/bin/bash
set -euo pipefail
cd /app/freeslots
patch -p1 <<'PATCH'
--- a/freeslots/core.py
+++ b/freeslots/core.py
@@ -8,11 +8,11 @@
 
 def merge(intervals: Iterable[Interval]) -> list[Interval]:
     """Union of the intervals as sorted, disjoint intervals (touching ones are merged)."""
-    ordered = sorted(intervals, key=lambda iv: iv.end)
+    ordered = sorted(intervals, key=lambda iv: (iv.start, iv.end))
     merged: list[Interval] = []
     for iv in ordered:
         if merged and iv.start <= merged[-1].end:
-            merged[-1] = Interval(merged[-1].start, iv.end)
+            merged[-1] = Interval(merged[-1].start, max(merged[-1].end, iv.end))
         else:
             merged.append(iv)
     return merged
@@ -29,4 +29,6 @@
         if iv.start > cursor:
             slots.append(Interval(cursor, iv.start))
         cursor = max(cursor, iv.end)
-    return [s for s in slots if s.minutes > min_minutes]
+    if cursor < window_end:
+        slots.append(Interval(cursor, window_end))
+    return [s for s in slots if s.minutes >= min_minutes]
--- a/freeslots/parse.py
+++ b/freeslots/parse.py
@@ -18,7 +18,7 @@
     """'2024-03-04T09:00+01:00' -> the same instant as an aware UTC datetime."""
     local = datetime.strptime(text[:16], "%Y-%m-%dT%H:%M")
     offset = parse_offset(text[16:])
-    return (local + offset).replace(tzinfo=timezone.utc)
+    return (local - offset).replace(tzinfo=timezone.utc)
 
 
 def parse_calendar(text: str) -> list[Interval]:
@@ -28,7 +28,7 @@
         if not line or line.startswith("#"):
             continue
         start, end, *title = line.split()
-        if " ".join(title).startswith("[cancelled]"):
+        if " ".join(title).lower().startswith("[cancelled]"):
             continue
         events.append(Interval(parse_timestamp(start), parse_timestamp(end)))
     return events
PATCH
python3 -m pytest -q -p no:cacheprovider
