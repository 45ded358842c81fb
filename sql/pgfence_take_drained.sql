-- Take the fence of row $1 for fencing number $2 unless a newer one holds it,
-- and set its drained mark to $3, in one statement (the UPDATE locks the row).
UPDATE %I.fence SET holder = $2::numeric, drained = $3::boolean, at = now()
 WHERE id = $1 AND holder <= $2::numeric
RETURNING holder::text
