/** The default model's sample prompts: its emoji subjects and its icons, in their styles and colours. */
export const EMOJI_PROMPTS = [
  'rocket, flat style, on a teal background',
  'red apple, glossy style, on a yellow background',
  'cat face, twemoji style, on a blue background',
  'penguin, flat style, on a purple to pink gradient background',
];
export const ICON_PROMPTS = [
  'shopping cart icon, line style, dark blue on white',
  'heart icon, filled style, red on light pink',
  'camera icon, bold style, white on dark teal',
  'cloud icon, thin style, navy on light blue',
];
