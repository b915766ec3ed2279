DROP TABLE note_effects;
DROP TABLE notes;
