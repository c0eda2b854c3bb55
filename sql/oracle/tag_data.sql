-- JSScada historian table for Oracle Database 12c or later.
--
-- One row per tag value. Daily interval partitions on ts (Oracle creates each
-- day's partition on the first insert into it), and a LOCAL unique index on
-- (plc_code, tag_address, ts): the key that makes a batch written twice be
-- stored once (the writer counts ORA-00001 as a duplicate), and the index for
-- queries by tag over a time range. Old days are dropped partition by
-- partition: ALTER TABLE TAG_DATA DROP PARTITION FOR (TIMESTAMP '2026-01-01 00:00:00');
--
-- Numbers go to tag_value, STRING tags to tag_text; a BAD value has neither.

CREATE TABLE TAG_DATA (
    ts          TIMESTAMP(3)    NOT NULL,
    plc_code    VARCHAR2(14)    NOT NULL,
    tag_address VARCHAR2(16)    NOT NULL,
    tag_value   NUMBER,
    tag_text    VARCHAR2(960),
    quality     VARCHAR2(32)    NOT NULL,
    group_name  VARCHAR2(64)    NOT NULL,
    seq         NUMBER(19)      NOT NULL
)
PARTITION BY RANGE (ts) INTERVAL (NUMTODSINTERVAL(1, 'DAY'))
(PARTITION tag_data_p0 VALUES LESS THAN (TIMESTAMP '2026-01-01 00:00:00'));

CREATE UNIQUE INDEX tag_data_uk ON TAG_DATA (plc_code, tag_address, ts) LOCAL;

ALTER TABLE TAG_DATA ADD CONSTRAINT tag_data_uk UNIQUE (plc_code, tag_address, ts) USING INDEX tag_data_uk;
