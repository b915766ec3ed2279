DROP TABLE IF EXISTS erasure_holds;
