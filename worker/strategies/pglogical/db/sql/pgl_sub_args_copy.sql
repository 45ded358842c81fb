COPY pg_temp.fc_sub_args (sub, conninfo, pub, slot, pw, copy) FROM STDIN
