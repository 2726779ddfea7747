"""The configuration model shared by services and syncd: files, schemas, rules, rows, snapshots."""
