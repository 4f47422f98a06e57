-- Up Migration
-- Rolling windows (the `rolling` query option, alert rules on "the last 30 minutes") and
-- format 'list' read raw events of a short, recent range. Without an index that meant
-- scanning the whole monthly partition. A BRIN index keeps the smallest and largest
-- occurred_at of every 128 pages: events arrive roughly in time order, so a recent range
-- touches a few page ranges, and keeping the index costs almost nothing on the hot insert
-- path (a B-tree would cost about two thirds of the raw insert, see 0003). Created on the
-- partitioned table, it is created on every existing and future monthly partition.
CREATE INDEX events_occurred_at_brin ON events USING brin (occurred_at);

-- Down Migration
DROP INDEX events_occurred_at_brin;
