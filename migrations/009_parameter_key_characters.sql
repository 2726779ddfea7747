-- Categories and keys are names, never control characters: syncd reads fingerprints of all rows
-- as one text joined by the ASCII unit and record separators, and a key holding one of them
-- (only possible by hand) would be misread.
alter table config_parameters add constraint config_parameters_names_printable
    check (category !~ '[[:cntrl:]]' and key !~ '[[:cntrl:]]');
