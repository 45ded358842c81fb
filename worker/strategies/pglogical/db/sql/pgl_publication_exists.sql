SELECT puballtables FROM pg_catalog.pg_publication WHERE pubname = $1
