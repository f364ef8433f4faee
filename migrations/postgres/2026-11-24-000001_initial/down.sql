DROP TABLE interfaces;
DROP TABLE vms;
DROP TABLE nets;
DROP TABLE tasks;
DROP TABLE actions;
DROP TABLE vim_accounts;
DROP TABLE sdn_controllers;
