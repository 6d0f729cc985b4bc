-- A person's sharing preference (issue 17, the participant app's Me): whether the proofs
-- they send are shared with their groups at all. Off: nobody is told of them (no `shares`
-- rows, so no instant news and nothing in a digest) and the group's feed in the app shows
-- them to nobody but their author; a review still shows the photo to its reviewers, who
-- must see it to judge it. Everyone shares, as before, until they turn it off.
ALTER TABLE users ADD COLUMN share_proofs boolean NOT NULL DEFAULT true;
