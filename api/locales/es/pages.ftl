# The words of the donor-facing pages in this language (Project Fluent).

## donate

donate-title = Done para defender a los inmigrantes
donate-intro = Su donación paga abogados que acompañan a inmigrantes en proceso de deportación.
donate-frequency = Frecuencia
donate-once = Una vez
donate-monthly = Mensual
donate-amount = Cantidad (dólares estadounidenses)
donate-other-amount = Otra cantidad
donate-fund = Destino de su donación
donate-tribute = Done en honor o en memoria de alguien (opcional)
donate-tribute-none = Sin dedicatoria
donate-in-honor = En honor de
donate-in-memory = En memoria de
donate-tribute-name = Nombre de la persona homenajeada
donate-notify-name = ¿A quién avisamos? (nombre)
donate-notify-email = Correo electrónico de esa persona
donate-tribute-show-amount = Indicarle el monto de mi donación
donate-about-you = Sus datos
donate-name = Su nombre
donate-email = Su correo electrónico
donate-consent = Envíenme noticias y llamamientos por correo
donate-anonymous = Mantener mi donación anónima
donate-submit = Continuar al pago seguro
donate-secure = Pagará en la página segura de Stripe. Nunca vemos el número de su tarjeta.
donate-errors-heading = Por favor corrija lo siguiente:
donate-err-frequency = Elija una vez o mensual.
donate-err-amount = Elija una cantidad o escríbala, como 25 o 25,50.
donate-err-amount-range = La cantidad debe ser de al menos $1,00 y como máximo $100.000,00.
donate-err-fund = Elija el destino de su donación.
donate-err-tribute-kind = Elija en honor de o en memoria de.
donate-err-tribute-name = Escriba el nombre de la persona a quien honra su donación.
donate-err-notify-name = Escriba el nombre de la persona a avisar en una línea, de 200 caracteres como máximo.
donate-err-notify-email = Escriba un correo válido para la persona a avisar, o déjelo vacío.
donate-err-name = Escriba su nombre.
donate-err-email = Escriba un correo electrónico válido, como nombre@ejemplo.org.
donate-unavailable = No pudimos comunicarnos con el procesador de pagos y no se hizo ningún cargo. Inténtelo de nuevo en un momento.
donate-raised = recaudado
donate-goal = meta
donate-thanks-title = Gracias
donate-thanks-paid = Recibimos su donación. Su recibo llegará por correo electrónico.
donate-thanks-processing = Su pago aún se está procesando. Le enviaremos su recibo en cuanto se complete.
donate-thanks-failed = Su pago no se completó y no se hizo ningún cargo.
donate-thanks-unknown = Estamos confirmando su donación con el procesador de pagos. Su recibo llegará por correo electrónico.
donate-cancelled-title = Su donación no se completó
donate-cancelled-body = No se hizo ningún cargo. Puede intentarlo de nuevo cuando quiera.
donate-try-again = Intentar de nuevo
donate-required = obligatorio

## manage

manage-title = Sus compromisos de donación
manage-invalid = Este enlace no es válido. Use el enlace más reciente que le enviamos por correo.
manage-expired = Este enlace ha vencido. Le enviaremos uno nuevo con nuestro próximo correo, o escríbanos.
manage-none = No tiene compromisos de donación.
manage-unavailable = Esta página no está disponible en este momento. Inténtelo de nuevo en unos minutos.
manage-month = al mes
manage-quarter = cada trimestre
manage-year = al año
manage-since = desde
manage-active = activo
manage-paused = en pausa
manage-past-due = pago pendiente
manage-cancelled = cancelado
manage-completed = completado
manage-new-amount = Nuevo monto
manage-change-amount = Cambiar el monto
manage-pause = Pausar
manage-resume = Reanudar
manage-confirm-cancel = Sí, cancelar este compromiso
manage-cancel = Cancelar el compromiso
manage-update-card = Actualizar mi tarjeta
manage-done-here = Listo. Su compromiso está actualizado. Gracias.
manage-done-at-processor = Gracias. Enviamos su cambio a nuestro procesador de tarjetas; aparecerá aquí en unos minutos.
manage-bad-amount = Escriba el nuevo monto en dólares, por ejemplo 42 o 42,50.
manage-needs-confirmation = Para cancelar, marque la casilla que lo confirma.
manage-cannot-change = Este compromiso no puede cambiar así ahora.
manage-no-card = No tenemos una tarjeta registrada a su nombre.
manage-try-later = No pudimos comunicarnos con nuestro procesador de tarjetas. Inténtelo de nuevo en unos minutos.

## guard

guard-honeypot-label = Deje este campo vacío
guard-minimum-hint = La donación mínima en esta página es de { $minimum }.
guard-below-minimum = La cantidad debe ser de al menos { $minimum }.
guard-form-expired = Por su seguridad, este formulario caducó. Revise su donación y envíela de nuevo; no se hizo ningún cargo.
guard-refused-title = No pudimos aceptar este formulario
guard-refused-body = Abra nuestra página de donaciones y envíe su donación desde allí. No se hizo ningún cargo.
guard-back-to-form = Ir a la página de donaciones
guard-busy-title = Espere un momento, por favor
guard-busy-body = Para proteger a los donantes del fraude con tarjetas, aceptamos pocas donaciones desde un mismo lugar en poco tiempo. Inténtelo de nuevo en { $minutes ->
    [one] un minuto
   *[other] unos { $minutes } minutos
}. No se hizo ningún cargo.

## the layout and words every page shares

language-name = Español
layout-language = Idioma
page-error = Algo salió mal. Inténtelo de nuevo más tarde.
money = { $currency ->
    [USD] ${ $amount }
   *[other] { $amount } { $currency }
}
month-1 = enero
month-2 = febrero
month-3 = marzo
month-4 = abril
month-5 = mayo
month-6 = junio
month-7 = julio
month-8 = agosto
month-9 = septiembre
month-10 = octubre
month-11 = noviembre
month-12 = diciembre
date-long = { $day } de { $month } de { $year }
amount-ambiguous = Ese monto se puede leer de dos maneras. Escriba mil dólares como { $thousand } y los centavos después de una coma, como en { $example }.

## donate, more

donate-page-unavailable = La página de donaciones no está disponible; inténtelo de nuevo en un momento.
donate-circle-note = { $monthly } al mes le une al { $circle }, para donaciones de { $yearly } o más al año.
donate-campaign-ended = { $campaign } ha terminado: se recaudaron { $raised } para una meta de { $goal }. Gracias a todas las personas que donaron.

## circle

circle-untitled = El Círculo
circle-unavailable = Esta página no está disponible en este momento.
circle-intro = Gracias a quienes sostienen nuestro trabajo con un compromiso de { $yearly } o más al año.
circle-empty = Pronto daremos aquí las gracias a nuestros primeros miembros.
circle-join-heading = Únase
circle-join = Done { $monthly } al mes para unirse al { $circle }

## manage, more

manage-since-date = desde el { $date }

## unsubscribe

unsubscribe-title = Correos de llamamientos
unsubscribe-confirm-title = ¿Dejar de recibir llamamientos por correo?
unsubscribe-confirm-body = Ya no recibirá nuestros llamamientos de recaudación. Seguiremos enviándole los recibos de sus donaciones y los resúmenes anuales.
unsubscribe-button = Darme de baja
unsubscribe-done-title = Se ha dado de baja
unsubscribe-done-body = No le enviaremos más llamamientos. Los recibos de sus donaciones le seguirán llegando.
unsubscribe-gone = Ya no tenemos registro de esta dirección, así que no le llegará ningún llamamiento.
unsubscribe-invalid = Este enlace para darse de baja no es válido. Responda a cualquiera de nuestros correos y dejaremos de enviarlos.
