-- JSScada historian table for Oracle Database 12c or later.
--
-- One row per tag value. Daily interval partitions on ts (Oracle creates each
-- day's partition on the first insert into it), and a LOCAL unique index on
-- (plc_code, tag_address, ts, group_name, cycle): unique on the value's
-- identity (plc_code, group_name, cycle, tag_address) -- a batch written twice
-- is stored once (the writer counts ORA-00001 as a duplicate), and two
-- different reads (two groups reading one address in the same millisecond, two
-- cycles of a group whose clock stepped back) are never merged. ts is in the
-- key because a LOCAL unique index must hold the partition key; it changes
-- nothing about what is unique, a cycle's ts being fixed when it is read. Led
-- by plc_code, tag_address, ts, the same index serves queries by tag over a
-- time range. Old days are dropped partition by partition:
-- ALTER TABLE TAG_DATA DROP PARTITION FOR (TIMESTAMP '2026-01-01 00:00:00');
--
-- Numbers go to tag_value, STRING tags to tag_text; a BAD value has neither.
-- cycle: the poller's epoch << 32 | the group's sequence (see common/messages.py);
-- rows of the previous release have -ts in Unix ms (tag_data_upgrade.sql).

CREATE TABLE TAG_DATA (
    ts          TIMESTAMP(3)    NOT NULL,
    plc_code    VARCHAR2(14)    NOT NULL,
    tag_address VARCHAR2(16)    NOT NULL,
    tag_value   NUMBER,
    tag_text    VARCHAR2(960),
    quality     VARCHAR2(32)    NOT NULL,
    group_name  VARCHAR2(64)    NOT NULL,
    cycle       NUMBER(19)      NOT NULL
)
PARTITION BY RANGE (ts) INTERVAL (NUMTODSINTERVAL(1, 'DAY'))
(PARTITION tag_data_p0 VALUES LESS THAN (TIMESTAMP '2026-01-01 00:00:00'));

CREATE UNIQUE INDEX tag_data_uk ON TAG_DATA (plc_code, tag_address, ts, group_name, cycle) LOCAL;

ALTER TABLE TAG_DATA ADD CONSTRAINT tag_data_uk UNIQUE (plc_code, tag_address, ts, group_name, cycle)
    USING INDEX tag_data_uk;
