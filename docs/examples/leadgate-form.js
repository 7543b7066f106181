// Отправка формы сайта в leadgate прямо из браузера: fetch на POST /api/v1/intake.
// Форма: <form id="lead-form" data-leadgate-url="https://leads.shop.example" data-leadgate-token="...">
// Origin страницы должен быть в cors_origins HTTP-источника, иначе leadgate ответит 403.

(function () {
  'use strict';

  function newKey() {
    if (window.crypto && crypto.randomUUID) {
      return crypto.randomUUID();
    }
    return Date.now().toString(36) + '-' + Math.random().toString(36).slice(2);
  }

  async function send(form, result) {
    const data = new FormData(form);
    // Ключи — как в формате v0.1; пустые поля leadgate считает незаполненными.
    const payload = {
      'Тема': 'Обратный звонок с сайта',
      'Дата': new Date().toISOString(),
      'КонтактноеЛицо': data.get('name'),
      'Телефон': data.get('phone'),
      'АдресЭлектроннойПочты': data.get('email'),
      'Описание': data.get('comment'),
    };
    // Один ключ на одну заполненную форму: повторная отправка после сетевой ошибки не создаст второй лид.
    if (!form.dataset.idempotencyKey) {
      form.dataset.idempotencyKey = newKey();
    }
    const response = await fetch(form.dataset.leadgateUrl.replace(/\/$/, '') + '/api/v1/intake', {
      method: 'POST',
      headers: {
        'Authorization': 'Bearer ' + form.dataset.leadgateToken,
        'Content-Type': 'application/json',
        'Idempotency-Key': form.dataset.idempotencyKey,
      },
      body: JSON.stringify(payload),
    });
    const answer = await response.json();
    if (response.status === 201 || response.status === 200) {
      result.textContent = 'Спасибо! Заявка №' + answer.id + ' принята, мы перезвоним.';
      result.dataset.leadId = String(answer.id);
      form.reset();
      delete form.dataset.idempotencyKey;
    } else {
      result.textContent = 'Не удалось отправить заявку: ' + (answer.error ? answer.error.message : response.status);
    }
  }

  document.addEventListener('DOMContentLoaded', function () {
    const form = document.getElementById('lead-form');
    const result = document.getElementById('lead-result');
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      send(form, result).catch(function (error) {
        result.textContent = 'Нет связи с сервером заявок, попробуйте ещё раз: ' + error.message;
      });
    });
  });
})();
