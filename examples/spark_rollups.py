"""Daily totals of several hosts' stores with PySpark, from the raw user partitions.

    spark-submit examples/spark_rollups.py /mnt/host-a/analytics_data /mnt/host-b/analytics_data ...
    python examples/spark_rollups.py STORE... [--json]   # local mode, prints one JSON object

Output per UTC day: events, distinct users (pseudonymous ``user_hash``) and sessions
(``session_start`` events), the same figures ``ff-metrics bi --start D --end D+1`` gives on a
store merged with ``ff-metrics merge-stores`` (docs/operators.md, "Several hosts, one answer").
The ``date`` column comes from the ``date=`` partition directories (``basePath``); the glob is the
documented reader glob, which no temporary file of the library matches.
"""

from __future__ import annotations

import json
import sys


def daily_totals(stores: list[str]) -> dict[str, dict[str, int]]:
    import glob

    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    spark = (SparkSession.builder.appName("ff-analytics-daily").master("local[1]")
             .config("spark.sql.session.timeZone", "UTC").config("spark.ui.enabled", "false").getOrCreate())
    schema = T.StructType([T.StructField("user_hash", T.StringType()), T.StructField("event_type", T.StringType()),
                           T.StructField("date", T.DateType())])
    frames = []
    for base in stores:
        root = f"{base.rstrip('/')}/analytics/user_analytics"
        for stream in ("behavior_patterns", "feature_usage", "session_analytics", "engagement_metrics"):
            pattern = f"{root}/{stream}/date=*/*.jsonl*"
            if not glob.glob(pattern):  # Spark refuses a glob that matches nothing
                continue
            frames.append(spark.read.schema(schema).option("basePath", f"{root}/{stream}").json(pattern))
    if not frames:
        spark.stop()
        return {}
    events = frames[0]
    for f in frames[1:]:
        events = events.unionByName(f)
    rows = (events.groupBy("date")
            .agg(F.count("*").alias("events"), F.countDistinct("user_hash").alias("users"),
                 F.sum(F.when(F.col("event_type") == "session_start", 1).otherwise(0)).alias("sessions"))
            .orderBy("date").collect())
    spark.stop()
    return {r["date"].isoformat(): {"events": r["events"], "users": r["users"], "sessions": r["sessions"]}
            for r in rows}


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--json"]
    if not args:
        sys.exit("usage: spark_rollups.py STORE [STORE ...] [--json]")
    print(json.dumps(daily_totals(args), sort_keys=True))
