import { api, query } from './api.js';
import { emptyState, h, renderPager, replace, safeUrl, timeElement } from './dom.js';
import { groupFilter } from './group-filter.js';
import { loading, showError } from './ui.js';

const PAGE_SIZE = 12;
let offset = 0;

/** A post's photo, linked; a review's too (it has the same image_url, username and task). */
export function photo(post) {
  const src = safeUrl(post.image_url);
  const label = post.task_description
    ? `Photo by ${post.username} for “${post.task_description}”`
    : `Photo by ${post.username}`;
  if (!src) {
    // Storage could not give a URL (the object is gone, storage is down): say so, and why.
    if (post.image_url_error) {
      return h('div', { class: 'photo missing', title: post.image_url_error }, 'Photo unavailable');
    }
    return h('div', { class: 'photo missing' }, 'No photo');
  }
  const image = h('img', { src, alt: label, loading: 'lazy', decoding: 'async' });
  image.addEventListener('error', () => {
    image.replaceWith(h('div', { class: 'photo missing' }, 'Photo unavailable'));
  });
  return h('a', { class: 'photo', href: src, target: '_blank', rel: 'noopener' }, image);
}

/** One post as a card; the Groups view shows a group's posts with it too. */
export function postCard(post) {
  return h(
    'article',
    { class: 'post', dataset: { postId: post.id } },
    photo(post),
    h(
      'div',
      { class: 'post-body' },
      post.post_content ? h('p', { class: 'caption' }, post.post_content) : null,
      h(
        'p',
        { class: 'meta' },
        h('strong', {}, post.username),
        post.task_description ? [' · ', h('span', { class: 'task' }, post.task_description)] : null,
      ),
      h('p', { class: 'meta muted' }, timeElement(post.created_at)),
    ),
  );
}

export async function loadFeed(section) {
  const list = section.querySelector('[data-list]');
  await loading(list, async () => {
    try {
      const groupId = await groupFilter(section, () => {
        offset = 0;
        void loadFeed(section);
      });
      const page = await api(`/feed${query({ limit: PAGE_SIZE, offset, group_id: groupId })}`);
      if (page.items.length === 0 && offset > 0) {
        offset = 0;
        return loadFeed(section);
      }
      replace(
        list,
        page.items.length === 0
          ? emptyState('No posts yet. When someone sends a photo for a task, it shows up here.')
          : page.items.map(postCard),
      );
      renderPager(
        section.querySelector('[data-pager]'),
        page,
        (next) => {
          offset = next;
          void loadFeed(section);
        },
        'posts',
      );
    } catch (error) {
      showError(error);
    }
  });
}
