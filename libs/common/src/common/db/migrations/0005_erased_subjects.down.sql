DROP TABLE IF EXISTS erased_subjects;
