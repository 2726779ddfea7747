-- Who a commit comes from, as far as syncd could prove it, written by the apply transaction that
-- applied the commit. The audit log names the commit of each change; this table adds the git
-- author (as typed by the committer), the verified signer (principal and key fingerprint, or
-- `unverified` when signatures were not checked), the pull request the merge commit names, and
-- the guardrail override that let the change through with the two people behind it.

create table commit_provenance (
    commit_sha            text primary key,
    author                text not null,
    verification          text not null check (verification in ('verified', 'unverified')),
    signer                text,
    signer_key            text,
    pull_request          integer,
    override_reason       text,
    override_by           text,
    override_commit       text,
    overridden_principals text[],
    recorded_at           timestamptz not null default now(),
    check ((verification = 'verified') = (signer is not null and signer_key is not null))
);

-- Each audit row with the provenance of the commit that caused it (none for hand edits).
create view config_audit_trail as
select a.*,
       p.author          as commit_author_recorded,
       p.verification,
       p.signer,
       p.signer_key,
       p.pull_request,
       p.override_reason,
       p.override_by,
       p.overridden_principals
  from config_audit_log a
  left join commit_provenance p on p.commit_sha = a.commit_sha;

grant select on commit_provenance, config_audit_trail to tonsurance_reader, tonsurance_writer;
grant insert, update on commit_provenance to tonsurance_writer;
