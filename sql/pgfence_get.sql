-- The fence row $1 (locked with FOR UPDATE when inside a fenced transaction).
SELECT holder::text, drained FROM %I.fence WHERE id = $1 %R
