-- Every task, habit and feed post belongs to a group (issue 16). Whoever inserts one may
-- name its group (`new … in Runners`, POST /tasks with group_id); when nobody did, the
-- database chooses, so no insert path (a habit's occurrence, the admin's habit, a proof's
-- post, a script) can leave a row outside every group:
--   a habit's occurrence → its habit's group; a feed post → its task's group;
--   otherwise the owner's only group, else the default group when they are in it, else the
--   group they joined first, else the default group.
CREATE FUNCTION taskwire_owner_group(owner bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT coalesce(
    (SELECT m.group_id FROM group_members m
     JOIN groups g ON g.id = m.group_id
     WHERE m.user_id = owner
     ORDER BY g.is_default DESC, m.joined_at, m.group_id
     LIMIT 1),
    (SELECT id FROM groups WHERE is_default))
$$;

CREATE FUNCTION taskwire_task_group() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.group_id IS NULL AND NEW.habit_id IS NOT NULL THEN
    NEW.group_id := (SELECT group_id FROM habits WHERE id = NEW.habit_id);
  END IF;
  IF NEW.group_id IS NULL THEN
    NEW.group_id := taskwire_owner_group(NEW.user_id);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER tasks_group BEFORE INSERT ON tasks
  FOR EACH ROW EXECUTE FUNCTION taskwire_task_group();

CREATE FUNCTION taskwire_habit_group() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.group_id IS NULL THEN
    NEW.group_id := taskwire_owner_group(NEW.user_id);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER habits_group BEFORE INSERT ON habits
  FOR EACH ROW EXECUTE FUNCTION taskwire_habit_group();

CREATE FUNCTION taskwire_feed_group() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.group_id IS NULL AND NEW.task_id IS NOT NULL THEN
    NEW.group_id := (SELECT group_id FROM tasks WHERE id = NEW.task_id);
  END IF;
  IF NEW.group_id IS NULL THEN
    NEW.group_id := taskwire_owner_group(NEW.user_id);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER feed_group BEFORE INSERT ON feed
  FOR EACH ROW EXECUTE FUNCTION taskwire_feed_group();
