/* A small inline "are you sure?": the confirming button takes the focus, Cancel puts the
 * question away. Used where a click would delete something for everyone. */
import { t } from "../i18n";

export function ConfirmInline(props: {
  label: string;
  confirm: string;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  return (
    <span class="board-confirm board-confirm--inline" role="group" aria-label={props.label}>
      <button type="button" class="button button--danger button--small" autoFocus onClick={props.onConfirm}>
        {props.confirm}
      </button>
      <button type="button" class="button button--ghost button--small" onClick={props.onCancel}>
        {t("cancel")}
      </button>
    </span>
  );
}
