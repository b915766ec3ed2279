DROP FUNCTION IF EXISTS scoring_context(text, text, text, text, text);
