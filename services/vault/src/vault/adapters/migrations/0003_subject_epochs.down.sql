DROP TABLE subject_epochs;
