-- placeholder so the embedded SQL table is never empty; real queries live beside it.
SELECT 1;
