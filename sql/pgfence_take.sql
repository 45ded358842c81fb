-- Take the fence of row $1 for fencing number $2 unless a newer one holds it.
UPDATE %I.fence SET holder = $2::numeric, at = now()
 WHERE id = $1 AND holder <= $2::numeric
RETURNING holder::text
