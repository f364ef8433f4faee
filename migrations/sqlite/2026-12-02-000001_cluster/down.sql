DROP TABLE vim_leases;
DROP TABLE instances;
