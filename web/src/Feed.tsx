/** The live event feed: the last changes the stream delivered, newest first. */
import { display, shortName, type ChangeEvent } from './api';
import { kindOf, shorten } from './kinds';
import { useT } from './i18n';

export interface FeedItem {
  seq: number;
  at: Date;
  event: ChangeEvent;
}

export function Feed(props: { items: FeedItem[]; live: boolean; onOpen: (id: string) => void }) {
  const t = useT();
  return (
    <aside className="feed">
      <h2>
        {t('feed')}{' '}
        <span className={props.live ? 'dot live' : 'dot'}>{props.live ? t('live') : t('offlineStream')}</span>
      </h2>
      <ol data-testid="live-feed">
        {props.items.map(({ seq, at, event }) => {
          const type = shortName(event.type[0] ?? '');
          const e = event.entity ? shorten(event.entity) : undefined;
          const kind = kindOf(type);
          const main = e && kind ? e[kind.main] : undefined;
          return (
            <li key={seq} className={type === 'Alert' ? 'alert' : ''}>
              <time>{at.toLocaleTimeString()}</time> <span className="feed-type">{type}</span>{' '}
              <button className="link" onClick={() => props.onOpen(event.id)}>
                {display(e?.name ?? shortName(event.id))}
              </button>
              {main !== undefined && (
                <span className="feed-value">
                  {' '}
                  {kind?.main}={display(main, 24)}
                </span>
              )}
            </li>
          );
        })}
      </ol>
    </aside>
  );
}
