/** The panel's few icons, 16×16 strokes in currentColor so they follow the theme. */

const PATHS = {
  dice: (
    <>
      <rect x="2.5" y="2.5" width="11" height="11" rx="2" />
      <circle cx="5.5" cy="5.5" r="1" fill="currentColor" stroke="none" />
      <circle cx="10.5" cy="10.5" r="1" fill="currentColor" stroke="none" />
      <circle cx="8" cy="8" r="1" fill="currentColor" stroke="none" />
    </>
  ),
  locked: (
    <>
      <rect x="3.5" y="7.5" width="9" height="6" rx="1" />
      <path d="M5.5 7.5V5.5a2.5 2.5 0 0 1 5 0v2" />
    </>
  ),
  unlocked: (
    <>
      <rect x="3.5" y="7.5" width="9" height="6" rx="1" />
      <path d="M5.5 7.5V5.5a2.5 2.5 0 0 1 4.9-.7" />
    </>
  ),
  close: <path d="M5 5l6 6M11 5l-6 6" />,
};

export function Icon({ name }: { name: keyof typeof PATHS }) {
  return (
    <span class="ff-icon" aria-hidden="true" style={{ display: 'inline-flex' }}>
      <svg width="16" height="16" viewBox="0 0 16 16" fill="none" stroke="currentColor">
        {PATHS[name]}
      </svg>
    </span>
  );
}
