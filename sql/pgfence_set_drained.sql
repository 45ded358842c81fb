UPDATE %I.fence SET drained = $2::boolean, at = now() WHERE id = $1
